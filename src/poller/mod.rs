//! poller (in progress)
