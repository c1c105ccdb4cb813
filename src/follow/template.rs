//! Folder label templates: `"{Deal_Name} – {Stage}"`, where `{Field}` is a field's value.

use std::fmt;

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(String),
}

/// A parsed label template (see [`LabelTemplate::parse`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelTemplate {
    source: String,
    parts: Vec<Part>,
}

impl LabelTemplate {
    /// Parses `{Field}` placeholders (field API names: letters, digits, `_`) in text.
    /// A lone `{` or `}`, an empty or malformed field name are errors, said in words.
    pub fn parse(text: &str) -> Result<LabelTemplate, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.find(['{', '}']) {
                None => {
                    parts.push(Part::Text(rest.to_string()));
                    break;
                }
                Some(at) => {
                    if at > 0 {
                        parts.push(Part::Text(rest[..at].to_string()));
                    }
                    if rest[at..].starts_with('}') {
                        return Err(format!(
                            "`{text}` has a `}}` without its `{{`; expected {{Field}} placeholders such as \"{{Deal_Name}}\""
                        ));
                    }
                    let after = &rest[at + 1..];
                    let Some(end) = after.find('}') else {
                        return Err(format!(
                            "`{text}` has a `{{` that is never closed; expected {{Field}} placeholders such as \"{{Deal_Name}}\""
                        ));
                    };
                    let field = &after[..end];
                    if field.is_empty()
                        || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        return Err(format!(
                            "`{{{field}}}` in `{text}` is not a field API name; expected letters, digits and `_`, e.g. \"{{Deal_Name}}\""
                        ));
                    }
                    parts.push(Part::Field(field.to_string()));
                    rest = &after[end + 1..];
                }
            }
        }
        Ok(LabelTemplate {
            source: text.to_string(),
            parts,
        })
    }

    /// The fields the template names, in order, without repeats.
    pub fn fields(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in &self.parts {
            if let Part::Field(f) = p
                && !out.contains(f)
            {
                out.push(f.clone());
            }
        }
        out
    }

    /// The label with each `{Field}` replaced by `value(Field)` (empty when absent). Not
    /// yet made safe: see [`crate::planner::folder_label`].
    pub fn render(&self, value: impl Fn(&str) -> Option<String>) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Field(f) => out.push_str(&value(f).unwrap_or_default()),
            }
        }
        out
    }
}

impl fmt::Display for LabelTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_render() {
        let t = LabelTemplate::parse("{First_Name} {Last_Name} ({First_Name})").unwrap();
        assert_eq!(t.fields(), vec!["First_Name", "Last_Name"]);
        let r = t.render(|f| (f == "First_Name").then(|| "Ada".to_string()));
        assert_eq!(r, "Ada  (Ada)");
    }

    #[test]
    fn malformed_templates_are_refused() {
        for bad in ["{Deal_Name", "Deal}", "{}", "{Deal Name}", "{a{b}}"] {
            assert!(LabelTemplate::parse(bad).is_err(), "{bad}");
        }
        assert!(LabelTemplate::parse("plain").is_ok());
        assert!(LabelTemplate::parse("").is_ok());
    }
}
