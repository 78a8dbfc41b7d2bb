use std::fmt;

/// Separates tenant from local name in internal names (`acme.orders`).
pub const INTERNAL_SEPARATOR: char = '.';

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("invalid tenant name `{0}`: must match [a-z0-9][a-z0-9-]{{0,62}}")]
    InvalidTenant(String),
    #[error("topic name is empty")]
    EmptyTopic,
    #[error("topic name `{0}` is `.` or `..`, which Kafka forbids")]
    DotTopic(String),
    #[error("topic name is {0} characters long, more than the 249 Kafka allows")]
    TopicTooLong(usize),
    #[error(
        "topic name `{0}` contains a character other than ASCII alphanumerics, `.`, `_` and `-`"
    )]
    TopicCharacters(String),
}

/// A topic name valid by Kafka's rules: 1..=249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TopicName(String);

impl TopicName {
    pub const MAX_LEN: usize = 249;

    pub fn new(name: &str) -> Result<Self, NameError> {
        if name.is_empty() {
            return Err(NameError::EmptyTopic);
        }
        if name == "." || name == ".." {
            return Err(NameError::DotTopic(name.to_owned()));
        }
        if name.len() > Self::MAX_LEN {
            return Err(NameError::TopicTooLong(name.len()));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-')
        {
            return Err(NameError::TopicCharacters(name.to_owned()));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TopicName {
    type Error = NameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(&value)
    }
}

impl From<TopicName> for String {
    fn from(value: TopicName) -> Self {
        value.0
    }
}

impl fmt::Display for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TopicName({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_kafka_rules() {
        assert!(TopicName::new("orders").is_ok());
        assert!(TopicName::new("a.b_c-D9").is_ok());
        assert_eq!(TopicName::new(""), Err(NameError::EmptyTopic));
        assert!(TopicName::new(".").is_err());
        assert!(TopicName::new("..").is_err());
        assert!(TopicName::new("a b").is_err());
        assert!(TopicName::new("a/b").is_err());
        assert!(TopicName::new(&"x".repeat(249)).is_ok());
        assert!(TopicName::new(&"x".repeat(250)).is_err());
    }
}
