//! What we know about each module's records beyond the attachments API: the fields a
//! record is named by, for labels (`records`, followed folders).

/// The fields whose values, joined by a space, name a record of `module` (its API name):
/// Pipelines/Deals `Deal_Name`, Contacts/Leads `First_Name Last_Name`, Accounts
/// `Account_Name`, Products `Product_Name`, Tasks `Subject`, Events `Event_Title`; any
/// other module has none (its records are shown by id alone).
pub fn default_label_fields(module: &str) -> &'static [&'static str] {
    match module {
        "Pipelines" | "Deals" => &["Deal_Name"],
        "Contacts" | "Leads" => &["First_Name", "Last_Name"],
        "Accounts" => &["Account_Name"],
        "Products" => &["Product_Name"],
        "Tasks" => &["Subject"],
        "Events" => &["Event_Title"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::default_label_fields;

    #[test]
    fn documented_modules_have_their_name_fields() {
        assert_eq!(default_label_fields("Pipelines"), ["Deal_Name"]);
        assert_eq!(default_label_fields("Leads"), ["First_Name", "Last_Name"]);
        assert_eq!(default_label_fields("Events"), ["Event_Title"]);
        assert!(default_label_fields("Notes").is_empty());
        assert!(default_label_fields("Custom_Things").is_empty());
    }
}
