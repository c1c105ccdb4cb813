//! Zoho data centers: which accounts and API hosts belong to a `zoho.dc` value.

/// One data center's hosts. A refresh token only works against the accounts server of the
/// DC where the organisation lives, so the pair must come from one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataCenter {
    /// The config value, e.g. `eu`.
    pub code: &'static str,
    /// OAuth server base URL.
    pub accounts_url: &'static str,
    /// REST API base URL.
    pub api_domain: &'static str,
}

/// Every DC Zoho documents (see `zoho-api-notes.md`). Canada's accounts host is
/// `zohocloud.ca`, not `zoho.ca`, which is a common copy-paste mistake.
pub const DATA_CENTERS: &[DataCenter] = &[
    dc(
        "us",
        "https://accounts.zoho.com",
        "https://www.zohoapis.com",
    ),
    dc("eu", "https://accounts.zoho.eu", "https://www.zohoapis.eu"),
    dc(
        "au",
        "https://accounts.zoho.com.au",
        "https://www.zohoapis.com.au",
    ),
    dc("in", "https://accounts.zoho.in", "https://www.zohoapis.in"),
    dc(
        "cn",
        "https://accounts.zoho.com.cn",
        "https://www.zohoapis.com.cn",
    ),
    dc("jp", "https://accounts.zoho.jp", "https://www.zohoapis.jp"),
    dc("sa", "https://accounts.zoho.sa", "https://www.zohoapis.sa"),
    dc(
        "ca",
        "https://accounts.zohocloud.ca",
        "https://www.zohoapis.ca",
    ),
];

const fn dc(
    code: &'static str,
    accounts_url: &'static str,
    api_domain: &'static str,
) -> DataCenter {
    DataCenter {
        code,
        accounts_url,
        api_domain,
    }
}

/// Looks a DC up by its config value (case-insensitive, as people write `EU` too).
pub fn data_center(code: &str) -> Option<&'static DataCenter> {
    DATA_CENTERS
        .iter()
        .find(|d| d.code.eq_ignore_ascii_case(code.trim()))
}

/// The valid codes, for error messages.
pub fn valid_codes() -> String {
    DATA_CENTERS
        .iter()
        .map(|d| d.code)
        .collect::<Vec<_>>()
        .join(", ")
}
