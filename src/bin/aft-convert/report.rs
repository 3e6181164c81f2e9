//! What the converter could not carry over as written: each report names the file and line it
//! comes from, goes to stderr, and is listed in a comment of the output; any report makes the
//! exit code 2.

use std::fmt;

/// One finding, at a place in the request repository.
#[derive(Debug, Clone)]
pub struct Report {
    /// `path:line` of the text the report is about, the path as given on the command line.
    pub at: String,
    /// What was found and what was done about it.
    pub message: String,
    /// The module call (its name) the report belongs to, so its resource carries it too.
    pub call: Option<String>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// The reports, in the order they were found.
#[derive(Debug, Default)]
pub struct Reports(pub Vec<Report>);

impl Reports {
    /// Records a report that belongs to no single module call.
    pub fn add(&mut self, at: String, message: impl Into<String>) {
        self.0.push(Report { at, message: message.into(), call: None });
    }

    /// Records a report about the module call `call`.
    pub fn on(&mut self, call: &str, at: String, message: impl Into<String>) {
        self.0.push(Report { at, message: message.into(), call: Some(call.to_string()) });
    }

    /// The reports about the module call `call`.
    pub fn of<'a>(&'a self, call: &'a str) -> impl Iterator<Item = &'a Report> + 'a {
        self.0.iter().filter(move |r| r.call.as_deref() == Some(call))
    }
}

/// `text` as `#` comment lines (one per line of text).
pub fn comment(text: &str) -> String {
    text.lines().map(|l| if l.is_empty() { "#\n".to_string() } else { format!("# {l}\n") }).collect()
}
