//! The policy layer's one error type, and the place in a file that a problem points at.

use std::fmt;
use std::path::PathBuf;

/// A place in a policy (or test-table) file. Line and column are 1-based and absent when Cedar
/// gave no source span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLocation {
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl SourceLocation {
    pub fn file(file: &str) -> Self {
        Self {
            file: file.to_owned(),
            line: None,
            column: None,
        }
    }

    /// The location of byte `offset` of `text`, the contents of `file`.
    pub fn at_offset(file: &str, text: &str, offset: usize) -> Self {
        // An offset outside the text (or inside a character) cannot come from Cedar's parser of
        // this text; keep the file name rather than guess a line.
        let Some(before) = text.get(..offset) else {
            return Self::file(file);
        };
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        Self {
            file: file.to_owned(),
            line: Some(line),
            column: Some(column),
        }
    }

    pub fn at_line(file: &str, line: usize) -> Self {
        Self {
            file: file.to_owned(),
            line: Some(line),
            column: None,
        }
    }
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        Ok(())
    }
}

/// One problem found in a policy set: where, and Cedar's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub location: SourceLocation,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy directory `{}`: {source}", dir.display())]
    ReadDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read `{}`: {source}", file.display())]
    ReadFile {
        file: PathBuf,
        source: std::io::Error,
    },
    /// The files do not parse or do not validate against the schema; the set is refused whole.
    #[error("policy set refused: {}", join(problems))]
    Invalid { problems: Vec<Problem> },
    /// The compiled-in schema is broken: a build defect, caught by this crate's tests.
    #[error("the built-in schema is invalid: {0}")]
    Schema(String),
    /// A line of a test table (`schloss policy test`) that does not parse.
    #[error("{0}")]
    Table(Problem),
    #[error("cannot start the policy watcher thread: {0}")]
    Watcher(std::io::Error),
}

impl PolicyError {
    /// The problems of a refused set (empty for other errors).
    pub fn problems(&self) -> &[Problem] {
        match self {
            Self::Invalid { problems } => problems,
            _ => &[],
        }
    }
}

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_columns() {
        let text = "permit(\n  principal,\n  action\n);";
        let loc = SourceLocation::at_offset("a.cedar", text, 10);
        assert_eq!(loc.to_string(), "a.cedar:2:3");
        assert_eq!(
            SourceLocation::at_offset("a.cedar", text, 0).to_string(),
            "a.cedar:1:1"
        );
        assert_eq!(
            SourceLocation::at_offset("a.cedar", text, 999).to_string(),
            "a.cedar"
        );
    }
}
