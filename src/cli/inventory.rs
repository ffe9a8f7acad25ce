//! `zhsearch list` and `zhsearch stats`: what the index holds, from its last commit (brought
//! up to date first, as every command does).

use std::io::Write;

use crate::engine::Engine;
use crate::error::Error;

/// `zhsearch list`: one document per line (tab-separated, or JSON Lines).
pub fn run_list(engine: &Engine, json: bool) -> Result<bool, Error> {
    super::refresh(engine)?;
    let documents = engine.documents()?;
    let mut out = anstream::stdout().lock();
    let mut write = |line: String| writeln!(out, "{line}").map_err(anyhow::Error::from);
    if !json {
        write("path\ttitle\tauthor\tdate\tpassages\tencoding".into())?;
    }
    for d in &documents {
        if json {
            write(serde_json::to_string(d).map_err(anyhow::Error::from)?)?;
            continue;
        }
        let field = |v: &Option<String>| v.as_deref().unwrap_or("-").replace(['\t', '\n'], " ");
        let encoding = match &d.skipped {
            Some(why) => format!("skipped: {why}"),
            None => field(&d.meta.encoding),
        };
        write(format!(
            "{}\t{}\t{}\t{}\t{}\t{encoding}",
            d.source,
            field(&d.meta.title),
            field(&d.meta.author),
            field(&d.meta.date),
            d.passages,
        ))?;
    }
    Ok(!documents.is_empty())
}

/// `zhsearch stats`: counts and sizes of the index, for a person or as one JSON object.
pub fn run_stats(engine: &Engine, json: bool) -> Result<bool, Error> {
    super::refresh(engine)?;
    let s = engine.stats()?;
    // The semantic tier's progress, when the index has an embedder.
    let embedded = engine.semantic_status();
    let mut out = anstream::stdout().lock();
    let text = if json {
        let mut v = serde_json::to_value(&s).map_err(anyhow::Error::from)?;
        if let (Some((done, total)), Some(o)) = (embedded, v.as_object_mut()) {
            o.insert("embedded".into(), done.into());
            o.insert("embeddable".into(), total.into());
        }
        v.to_string()
    } else {
        let updated = s.last_update.map_or("-".to_string(), utc);
        [
            format!("corpus       {}", s.corpus.display()),
            format!("index        {}", s.index.display()),
            format!("extensions   {}", s.extensions.join(",")),
            format!("documents    {} ({} skipped)", s.documents, s.skipped),
            format!("passages     {}", s.passages),
            format!("text         {}", size(s.text_bytes)),
            format!("index size   {}", size(s.index_bytes)),
            format!("last update  {updated}"),
        ]
        .into_iter()
        .chain(embedded.map(|(d, t)| format!("embedded     {d} of {t} passages (meaning search)")))
        .collect::<Vec<_>>()
        .join("\n")
    };
    writeln!(out, "{text}").map_err(anyhow::Error::from)?;
    Ok(true)
}

/// Bytes as a person reads them.
fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB ({b} bytes)", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB ({b} bytes)", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB ({b} bytes)", b as f64 / 1024.0),
        b => format!("{b} bytes"),
    }
}

/// Seconds since the Unix epoch as `YYYY-MM-DD HH:MM:SS UTC` (the civil calendar from days,
/// after Howard Hinnant's `civil_from_days`).
fn utc(secs: u64) -> String {
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (rest / 3600, rest / 60 % 60, rest % 60);
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02} UTC")
}

#[cfg(test)]
mod tests {
    #[test]
    fn unix_times_read_as_utc_dates() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(super::utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(super::utc(1_796_048_956), "2026-11-30 14:29:16 UTC");
    }
}
