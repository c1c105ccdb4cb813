//! Zoho data centers: which accounts and API hosts belong to a `zoho.dc` value. The one
//! table, for the config (which picks the hosts) and anything else that needs them.

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

/// Every DC Zoho documents (see `zoho-api-notes.md`), and nothing else: `com` is not a
/// code (the US DC is `us`). Canada's accounts host is `zohocloud.ca`, not `zoho.ca`,
/// which is a common copy-paste mistake.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zoho::validate_base_url;

    #[test]
    fn the_table_is_zohos_and_nothing_more() {
        let us = data_center("us").unwrap();
        assert_eq!(us.accounts_url, "https://accounts.zoho.com");
        assert_eq!(us.api_domain, "https://www.zohoapis.com");
        let ca = data_center("CA").unwrap();
        assert_eq!(ca.accounts_url, "https://accounts.zohocloud.ca");
        assert_eq!(ca.api_domain, "https://www.zohoapis.ca");
        assert_eq!(
            data_center("au").unwrap().accounts_url,
            "https://accounts.zoho.com.au"
        );
        assert_eq!(
            data_center("cn").unwrap().api_domain,
            "https://www.zohoapis.com.cn"
        );
        let codes: Vec<&str> = DATA_CENTERS.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["us", "eu", "au", "in", "cn", "jp", "sa", "ca"]);
        for d in DATA_CENTERS {
            assert_eq!(
                validate_base_url(d.accounts_url).as_deref(),
                Ok(d.accounts_url)
            );
            assert_eq!(validate_base_url(d.api_domain).as_deref(), Ok(d.api_domain));
        }
        assert!(data_center("xx").is_none());
        // The client's old table also took "com"; Zoho documents "us" only.
        assert!(data_center("com").is_none());
    }
}
