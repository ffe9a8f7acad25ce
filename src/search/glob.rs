//! `source:` globs: checked when the query is parsed, run by the backend as an anchored
//! regular expression over a file's path relative to the corpus.

/// Why a file glob cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobError {
    /// Nothing to match.
    #[error("the file glob is empty: give one such as 'notes/*.md'")]
    Empty,
    /// A `[` without its `]`, or `[]`.
    #[error(
        "the file glob `{glob}` has an unclosed or empty `[`: close the set (`[ab]`) or match any character with `?`"
    )]
    Unclosed {
        /// The glob as given.
        glob: String,
    },
    /// A set never matches a folder separator.
    #[error("the file glob `{glob}` has a `/` inside `[…]`: a set matches one character of a name")]
    SlashInSet {
        /// The glob as given.
        glob: String,
    },
    /// A range such as `[z-a]`.
    #[error(
        "the file glob `{glob}` has the range `{range}` backwards: write the lower character first"
    )]
    Backwards {
        /// The glob as given.
        glob: String,
        /// The range, as `z-a`.
        range: String,
    },
}

/// Refuses a glob that [`glob_regex`] cannot read, naming it.
pub fn check_glob(glob: &str) -> Result<(), GlobError> {
    glob_regex(glob).map(|_| ())
}

/// A path glob as an anchored regular expression: `*` within a folder, `**` across folders,
/// `?` one character, `[abc]`, `[a-z]` and `[!abc]` one of (or none of) a set. A glob without
/// `/` may match in any folder. An empty glob or an unclosed `[` is an error.
pub fn glob_regex(glob: &str) -> Result<String, GlobError> {
    if glob.is_empty() {
        return Err(GlobError::Empty);
    }
    let mut re = String::new();
    if !glob.contains('/') {
        re.push_str("(.*/)?");
    }
    let chars: Vec<char> = glob.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' if chars.get(i + 1) == Some(&'*') => {
                re.push_str(".*");
                i += 1;
                if chars.get(i + 1) == Some(&'/') {
                    // `**/` also matches no folder at all.
                    re.push_str("/?");
                    i += 1;
                }
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '[' => i = glob_class(glob, &chars, i, &mut re)?,
            c if c.is_alphanumeric() || c == '/' || c == '_' => re.push(c),
            c => {
                re.push('\\');
                re.push(c);
            }
        }
        i += 1;
    }
    Ok(re)
}

/// The class `[…]` that starts at `chars[open]`, as a regex class; returns the index of `]`.
fn glob_class(
    glob: &str,
    chars: &[char],
    open: usize,
    re: &mut String,
) -> Result<usize, GlobError> {
    let mut i = open + 1;
    let negated = matches!(chars.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let start = i;
    // A `]` right after the opening is a member, as in shell globs.
    if chars.get(i) == Some(&']') {
        i += 1;
    }
    while i < chars.len() && chars[i] != ']' {
        i += 1;
    }
    if i >= chars.len() || i == start {
        return Err(GlobError::Unclosed {
            glob: glob.to_string(),
        });
    }
    if chars[start..i].contains(&'/') {
        return Err(GlobError::SlashInSet {
            glob: glob.to_string(),
        });
    }
    let set = &chars[start..i];
    let reversed = set
        .windows(3)
        .find(|w| w[1] == '-' && w[0] > w[2])
        .map(|w| format!("{}-{}", w[0], w[2]));
    if let Some(range) = reversed {
        return Err(GlobError::Backwards {
            glob: glob.to_string(),
            range,
        });
    }
    re.push_str(if negated { "[^/" } else { "[" });
    for (k, &c) in set.iter().enumerate() {
        let range_dash = c == '-' && k > 0 && start + k + 1 < i;
        if c.is_alphanumeric() || range_dash {
            re.push(c);
        } else {
            re.push('\\');
            re.push(c);
        }
    }
    re.push(']');
    Ok(i)
}
