//! Character classes, in one place: what ends a sentence, what closes a quotation, what is a
//! Han character. Each user picks the classes it needs and says why.

/// Marks that end a sentence: 。！？； and their ASCII forms.
pub fn is_sentence_end(c: char) -> bool {
    matches!(c, '。' | '！' | '？' | '；' | '!' | '?' | ';')
}

/// An ellipsis, which may end a sentence too (`……`).
pub fn is_ellipsis(c: char) -> bool {
    c == '…'
}

/// A colon, which ends a clause that introduces what follows.
pub fn is_colon(c: char) -> bool {
    matches!(c, '：' | ':')
}

/// Closing quotation marks and brackets that end a quotation or an aside (`」』”）)`). Title
/// marks (`》`), lenticular brackets and the single quotes are not among them: they close a
/// name as often as a sentence.
pub fn is_closing_quote(c: char) -> bool {
    matches!(c, '」' | '』' | '”' | '）' | ')')
}

/// Closing marks of any kind: quotation marks, brackets and title marks.
pub fn is_closing_mark(c: char) -> bool {
    is_closing_quote(c) || matches!(c, '’' | '】' | '》' | '"' | '\'')
}

/// Han characters: CJK Unified Ideographs, Extension A, the compatibility block and the
/// supplementary ideographic planes (Extensions B–H).
pub fn is_han(c: char) -> bool {
    is_unified_han(c) || matches!(c, '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{3134F}')
}

/// CJK Unified Ideographs and Extension A: the Han characters that NFKC and lowercasing leave
/// as they are (the compatibility block is not among them: NFKC maps it).
pub fn is_unified_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert!("。！？；!?;".chars().all(is_sentence_end));
        assert!(!is_sentence_end('，') && !is_sentence_end('…'));
        assert!("」』”）)".chars().all(is_closing_quote) && !is_closing_quote('》'));
        assert!("」》’".chars().all(is_closing_mark));
        assert!(is_han('中') && is_han('㐀') && is_han('𠀀') && is_han('\u{F900}'));
        assert!(!is_unified_han('\u{F900}') && !is_han('a') && !is_han('。'));
    }
}
