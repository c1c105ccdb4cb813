//! The one table the bench prints.

/// One line of the table.
pub struct Row {
    pub figure: String,
    pub measured: String,
    pub target: String,
    pub ratio: String,
    /// `None` = informational (no target of its own).
    pub pass: Option<bool>,
}

impl Row {
    pub fn new(figure: impl Into<String>, measured: impl Into<String>) -> Row {
        Row {
            figure: figure.into(),
            measured: measured.into(),
            target: "–".into(),
            ratio: "–".into(),
            pass: None,
        }
    }

    pub fn target(mut self, target: impl Into<String>) -> Row {
        self.target = target.into();
        self
    }

    pub fn ratio(mut self, r: f64) -> Row {
        self.ratio = format!("{r:.2}");
        self
    }

    pub fn pass(mut self, ok: bool) -> Row {
        self.pass = Some(ok);
        self
    }
}

/// A row for a scenario that could not be measured.
pub fn failed(figure: &str, err: &anyhow::Error) -> Row {
    let msg = format!("{err:#}").replace('\n', " ").replace('|', "/");
    let short: String = msg.chars().take(160).collect();
    Row::new(figure, format!("ERROR: {short}")).pass(false)
}

pub fn markdown(rows: &[Row]) -> String {
    let mut s = String::from(
        "| figure | measured | baseline/target | ratio | pass? |\n|---|---|---|---|---|\n",
    );
    for r in rows {
        let pass = match r.pass {
            Some(true) => "yes",
            Some(false) => "**NO**",
            None => "–",
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            r.figure, r.measured, r.target, r.ratio, pass
        ));
    }
    s
}

pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

pub fn ms(d: std::time::Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
