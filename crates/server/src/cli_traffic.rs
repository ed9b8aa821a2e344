//! Splits and shadows at the terminal: `bindery bind --split/--shadow` parsing and how a target
//! reads (`v7 90% stable, v8 10% canary; shadow v9 5%`).

use anyhow::{Context, bail};
use bindery_proto::v1;

/// A share in percent (`90`, `12.5`, `0.25`) as basis points.
pub(crate) fn basis_points(text: &str) -> anyhow::Result<u32> {
    let text = text.trim().trim_end_matches('%');
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 2 || whole.is_empty() && frac.is_empty() {
        bail!("{text:?} is not a percentage with at most two decimals");
    }
    let whole: u32 = if whole.is_empty() { 0 } else { whole.parse().with_context(|| format!("{text:?}"))? };
    let frac: u32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<2}").parse().with_context(|| format!("{text:?}"))?
    };
    whole.checked_mul(100).and_then(|w| w.checked_add(frac)).with_context(|| format!("{text:?} is too large"))
}

/// `--split 7=90,8=10:canary` and `--shadow 9=5`: the requested traffic, or `None` without either.
pub(crate) fn parse(split: Option<&str>, shadows: &[String]) -> anyhow::Result<Option<v1::Traffic>> {
    if split.is_none() && shadows.is_empty() {
        return Ok(None);
    }
    let mut traffic = v1::Traffic::default();
    for entry in split.unwrap_or_default().split(',').filter(|e| !e.trim().is_empty()) {
        let (version, rest) = entry
            .split_once('=')
            .with_context(|| format!("--split entry {entry:?}: expected VERSION=PERCENT[:ROLE]"))?;
        let (weight, role) = rest.split_once(':').unwrap_or((rest, ""));
        traffic.sides.push(v1::TrafficSide {
            version: version
                .trim()
                .trim_start_matches('v')
                .parse()
                .with_context(|| format!("--split entry {entry:?}"))?,
            weight: basis_points(weight).with_context(|| format!("--split entry {entry:?}"))?,
            role: role.trim().to_owned(),
            buckets: Vec::new(),
        });
    }
    for entry in shadows {
        let (version, mirror) =
            entry.split_once('=').with_context(|| format!("--shadow {entry:?}: expected VERSION=PERCENT"))?;
        traffic.shadows.push(v1::TrafficShadow {
            version: version
                .trim()
                .trim_start_matches('v')
                .parse()
                .with_context(|| format!("--shadow {entry:?}"))?,
            mirror: basis_points(mirror).with_context(|| format!("--shadow {entry:?}"))?,
        });
    }
    Ok(Some(traffic))
}

pub(crate) fn percent(bp: u32) -> String {
    if bp.is_multiple_of(100) { format!("{}%", bp / 100) } else { format!("{}.{:02}%", bp / 100, bp % 100) }
}

/// `v7 90% stable, v8 10% canary; shadow v9 5%`.
pub(crate) fn describe(t: &v1::Traffic) -> String {
    let sides: Vec<String> = t
        .sides
        .iter()
        .map(|s| {
            let role = if s.role.is_empty() { String::new() } else { format!(" {}", s.role) };
            format!("v{} {}{role}", s.version, percent(s.weight))
        })
        .collect();
    let mut out = sides.join(", ");
    for s in &t.shadows {
        out.push_str(&format!("; shadow v{} {}", s.version, percent(s.mirror)));
    }
    out
}

/// The sides and shadows of a Resolve answer, one per line.
pub(crate) fn members(r: &v1::ResolveResponse) -> String {
    let mut out = String::new();
    for s in &r.sides {
        out.push_str(&format!(
            "\n  side   v{} {} {}  {}",
            s.version,
            percent(s.weight),
            s.role,
            s.artifact_uri
        ));
    }
    for s in &r.shadows {
        out.push_str(&format!("\n  shadow v{} mirror {}  {}", s.version, percent(s.mirror), s.artifact_uri));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_parse_from_percentages() {
        let t = parse(Some("7=90,v8=10:canary"), &["9=0.5".to_owned()]).unwrap().unwrap();
        assert_eq!(
            t.sides.iter().map(|s| (s.version, s.weight)).collect::<Vec<_>>(),
            [(7, 9_000), (8, 1_000)]
        );
        assert_eq!(t.sides[1].role, "canary");
        assert_eq!((t.shadows[0].version, t.shadows[0].mirror), (9, 50));
        assert_eq!(describe(&t), "v7 90%, v8 10% canary; shadow v9 0.50%");
        assert!(parse(Some("7"), &[]).is_err());
        assert!(parse(Some("7=1.234"), &[]).is_err());
        assert!(parse(None, &[]).unwrap().is_none());
    }
}
