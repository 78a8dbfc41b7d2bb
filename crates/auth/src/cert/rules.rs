//! Parsing of principal mapping rules and of their replacement templates.
//!
//! Grammar (rules are separated by `,`; whitespace around rules is ignored):
//!
//! ```text
//! rule   = "DEFAULT" | "RULE:" body | "SAN:" kind ":" body
//! kind   = "URI" | "DNS" | "EMAIL"
//! body   = pattern "/" principal "/" [ tenant "/" ] flags
//! flags  = "" | "L" | "U"
//! ```
//!
//! `RULE:pattern/principal/flags` is exactly Kafka's `ssl.principal.mapping.rules` rule; a
//! backslash escapes the next character (`\/` is a slash inside a field). Templates use
//! Java's replacement syntax: `$1`, `${name}`, `\x` for a literal `x`; as in Kafka, `$n`
//! beyond the pattern's groups is literal text.

use regex::{Captures, Regex, RegexBuilder};

/// Compiled size limit of one rule's regex.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A rule list that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid principal mapping rule at byte {offset}: {message}")]
pub struct RuleError {
    /// Byte offset in the rule text where the offending rule starts.
    pub offset: usize,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SanKind {
    Uri,
    Dns,
    Email,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Case {
    Keep,
    Lower,
    Upper,
}

#[derive(Debug)]
pub(crate) enum Source {
    SubjectDn,
    San(SanKind),
}

#[derive(Debug)]
pub(crate) enum Rule {
    /// The whole DN is the principal; the tenant is the listener's default.
    Default,
    Match(MatchRule),
}

#[derive(Debug)]
pub(crate) struct MatchRule {
    pub source: Source,
    /// The pattern as written, used for Java's `replaceAll`.
    pub regex: Regex,
    /// The pattern anchored at both ends, for Java's `matches()`.
    pub full: Regex,
    pub principal: Template,
    /// `None`: the listener's default tenant.
    pub tenant: Option<Template>,
    pub case: Case,
}

impl MatchRule {
    /// Java's `input.replaceAll(pattern, template)`.
    pub fn replace(&self, input: &str, template: &Template) -> String {
        self.regex
            .replace_all(input, |caps: &Captures<'_>| template.expand(caps))
            .into_owned()
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Group(usize),
}

/// A replacement template, resolved against the pattern's groups when parsed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Template(Vec<Piece>);

impl Template {
    fn parse(text: &str, regex: &Regex) -> Result<Self, String> {
        let groups = regex.captures_len().saturating_sub(1);
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => literal.push(chars.next().ok_or("template ends with `\\`")?),
                '$' if chars.peek() == Some(&'{') => {
                    chars.next();
                    let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                    let index = regex
                        .capture_names()
                        .position(|n| n == Some(name.as_str()))
                        .ok_or_else(|| format!("no group named `{name}`"))?;
                    flush(&mut literal, &mut pieces);
                    pieces.push(Piece::Group(index));
                }
                '$' => {
                    let first = chars
                        .peek()
                        .and_then(|c| c.to_digit(10))
                        .ok_or("`$` must be followed by a group number or `{name}`")?;
                    chars.next();
                    let mut index = first as usize;
                    if groups == 0 || index > groups {
                        if groups == 0 {
                            return Err(format!("group ${index} does not exist"));
                        }
                        // Kafka treats a reference to a missing group as literal text.
                        literal.push('$');
                        literal.push_str(&index.to_string());
                        continue;
                    }
                    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                        let next = index.saturating_mul(10).saturating_add(d as usize);
                        if next > groups {
                            break;
                        }
                        index = next;
                        chars.next();
                    }
                    flush(&mut literal, &mut pieces);
                    pieces.push(Piece::Group(index));
                }
                c => literal.push(c),
            }
        }
        flush(&mut literal, &mut pieces);
        Ok(Self(pieces))
    }

    fn expand(&self, caps: &Captures<'_>) -> String {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Literal(s) => out.push_str(s),
                Piece::Group(i) => out.push_str(caps.get(*i).map_or("", |m| m.as_str())),
            }
        }
        out
    }
}

fn flush(literal: &mut String, pieces: &mut Vec<Piece>) {
    if !literal.is_empty() {
        pieces.push(Piece::Literal(std::mem::take(literal)));
    }
}

/// Parses a rule list. `has_default_tenant` says whether rules without a tenant template
/// (and `DEFAULT`) have a tenant to fall back on; if not, they are rejected here.
pub(crate) fn parse_rules(text: &str, has_default_tenant: bool) -> Result<Vec<Rule>, RuleError> {
    let mut rules = Vec::new();
    let mut rest = text.trim_start();
    loop {
        let offset = text.len().saturating_sub(rest.len());
        let error = |message: String| RuleError { offset, message };
        if rest.is_empty() {
            return Err(error("expected a rule".to_owned()));
        }
        let (rule, after) = parse_rule(rest).map_err(error)?;
        let needs_default = match &rule {
            Rule::Default => true,
            Rule::Match(m) => m.tenant.is_none(),
        };
        if needs_default && !has_default_tenant {
            return Err(error(
                "rule has no tenant template and the listener has no default tenant".to_owned(),
            ));
        }
        rules.push(rule);
        let after = after.trim_start();
        if after.is_empty() {
            return Ok(rules);
        }
        rest = after
            .strip_prefix(',')
            .ok_or_else(|| error("expected `,` after the rule".to_owned()))?
            .trim_start();
    }
}

fn parse_rule(s: &str) -> Result<(Rule, &str), String> {
    if let Some(after) = s.strip_prefix("DEFAULT") {
        return Ok((Rule::Default, after));
    }
    if let Some(after) = s.strip_prefix("RULE:") {
        return parse_body(Source::SubjectDn, after);
    }
    if let Some(after) = s.strip_prefix("SAN:") {
        let (kind, after) = if let Some(a) = after.strip_prefix("URI:") {
            (SanKind::Uri, a)
        } else if let Some(a) = after.strip_prefix("DNS:") {
            (SanKind::Dns, a)
        } else if let Some(a) = after.strip_prefix("EMAIL:") {
            (SanKind::Email, a)
        } else {
            return Err("SAN rule must name URI, DNS or EMAIL".to_owned());
        };
        return parse_body(Source::San(kind), after);
    }
    Err("expected `DEFAULT`, `RULE:` or `SAN:`".to_owned())
}

fn parse_body(source: Source, s: &str) -> Result<(Rule, &str), String> {
    let (pattern, _, s) = field(s, &['/'])?;
    let (principal, _, s) = field(s, &['/'])?;
    let (third, end, s) = field(s, &['/', ','])?;
    let (tenant, flags, s) = if end == Some('/') {
        let (flags, _, s) = field(s, &[','])?;
        (Some(third), flags, s)
    } else {
        (None, third, s)
    };
    let case = match flags.trim_end() {
        "" => Case::Keep,
        "L" => Case::Lower,
        "U" => Case::Upper,
        other => {
            return Err(format!(
                "unknown flags `{other}` (expected L, U or nothing)"
            ))
        }
    };
    let pattern = unescape_slashes(pattern);
    let build = |p: &str| {
        RegexBuilder::new(p)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| format!("invalid pattern: {e}"))
    };
    let regex = build(&pattern)?;
    // INVARIANT: `pattern` compiled on its own, so its groups are balanced and wrapping it
    // cannot change its meaning (a trailing comment swallowing `)` fails to compile).
    let full = build(&format!(r"\A(?:{pattern})\z"))?;
    let principal = Template::parse(principal, &regex)?;
    let tenant = tenant.map(|t| Template::parse(t, &regex)).transpose()?;
    Ok((
        Rule::Match(MatchRule {
            source,
            regex,
            full,
            principal,
            tenant,
            case,
        }),
        s,
    ))
}

/// Reads up to the first unescaped terminator. Returns the raw field (escapes kept), the
/// terminator found (consumed if `/`, left in place otherwise) and the rest.
fn field<'a>(s: &'a str, terminators: &[char]) -> Result<(&'a str, Option<char>, &'a str), String> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        if c == '\\' {
            escaped = true;
        } else if terminators.contains(&c) || (c.is_whitespace() && !terminators.contains(&'/')) {
            let (head, tail) = s.split_at(i);
            let tail = if c == '/' {
                tail.get(1..).unwrap_or("")
            } else {
                tail
            };
            return Ok((head, Some(c), tail));
        }
    }
    if escaped {
        return Err("field ends with `\\`".to_owned());
    }
    if terminators.contains(&'/') && !terminators.contains(&',') {
        return Err("missing `/`".to_owned());
    }
    Ok((s, None, ""))
}

/// `\/` in a pattern means `/`; every other escape is the regex's own.
fn unescape_slashes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('/') => out.push('/'),
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}
