//! zoho (in progress)
