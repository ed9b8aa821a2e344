//! MLflow's search filters and orders in Bindery's filter language. MLflow's registry filter
//! grammar (`name = 'x' AND tags.team LIKE 'r%'`) is a subset of Bindery's, so translating is
//! renaming fields: strings and backticked keys are copied untouched, and Bindery's parser then
//! type-checks the result and reports errors at their position.

use crate::error::{ApiError, ApiResult};

/// What is being searched: MLflow names fields differently for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Models,
    Versions,
}

/// Bindery's name for MLflow field `field`, or why it has none.
fn field(target: Target, field: &str) -> ApiResult<String> {
    let lower = field.to_ascii_lowercase();
    if let Some(key) = lower.strip_prefix("tag.").or_else(|| lower.strip_prefix("tags.")) {
        // Keep the key's own case: only the prefix is MLflow's.
        return Ok(format!("tags.{}", &field[field.len() - key.len()..]));
    }
    let renamed = match (target, lower.as_str()) {
        (_, "name") => "name",
        (_, "creation_timestamp" | "timestamp") => "created_at",
        (_, "last_updated_timestamp") => "updated_at",
        (_, "description") => "description",
        (Target::Versions, "version_number" | "version") => "version",
        (Target::Versions, "run_id") => "lineage.run_id",
        (_, "and" | "or" | "not" | "in" | "like" | "ilike" | "is" | "null" | "asc" | "desc") => {
            return Ok(field.to_owned());
        }
        (Target::Versions, "source_path") => {
            return Err(ApiError::invalid(
                "source_path is not searchable in Bindery; search by name, version_number, run_id or tags",
            ));
        }
        _ => {
            return Err(ApiError::invalid(format!(
                "invalid attribute key '{field}' in the filter; Bindery's MLflow facade searches {}",
                match target {
                    Target::Models => "name and tags.<key>",
                    Target::Versions => "name, version_number, run_id and tags.<key>",
                }
            )));
        }
    };
    Ok(renamed.to_owned())
}

/// `filter` in Bindery's language. Identifiers (words of letters, digits, `_` and `.`, possibly
/// ending in a backticked key) are renamed; quoted strings, numbers and operators are kept.
pub fn translate(target: Target, filter: &str) -> ApiResult<String> {
    let chars: Vec<char> = filter.chars().collect();
    let mut out = String::with_capacity(filter.len() + 16);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' || c == '"' {
            let end = string_end(&chars, i);
            out.extend(&chars[i..end]);
            i = end;
        } else if c.is_ascii_alphabetic() || c == '_' || c == '`' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '.')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if chars.get(i) == Some(&'`') {
                // `tags.`key with dots`` : the backticked part is the key, copied as is.
                let key_start = i;
                i += 1;
                while i < chars.len() && chars[i] != '`' {
                    i += 1;
                }
                i = (i + 1).min(chars.len());
                let key: String = chars[key_start..i].iter().collect();
                let prefix = field(target, &format!("{word}x"))?;
                let name = format!("{}{key}", &prefix[..prefix.len() - 1]);
                i = push_field(&mut out, &name, &chars, i);
            } else {
                let name = field(target, &word)?;
                i = push_field(&mut out, &name, &chars, i);
            }
        } else if c.is_ascii_digit() {
            // A number (digits, '.', exponent) is copied whole, so `1e5` is not read as a word.
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            out.extend(&chars[start..i]);
        } else {
            out.push(c);
            i += 1;
        }
    }
    Ok(out)
}

/// The index just past the string literal that opens at `start` (a doubled quote escapes itself).
fn string_end(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() {
        if chars[i] == quote {
            if chars.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    chars.len()
}

/// Writes field `name`, whose source text ends at `i`, and returns where to go on. MLflow's
/// `tags.k != 'v'` also matches what lacks the tag (its client appends
/// ``tag.`mlflow.prompt.is_prompt` != 'true'`` to every model search); in Bindery's SQL semantics a
/// missing key is unknown, so that becomes `(tags.k IS NULL OR tags.k != 'v')`.
fn push_field(out: &mut String, name: &str, chars: &[char], i: usize) -> usize {
    if name.starts_with("tags.") {
        let mut j = i;
        while j < chars.len() && chars[j].is_whitespace() {
            j += 1;
        }
        let op: String = chars[j..chars.len().min(j + 2)].iter().collect();
        if op == "!=" || op == "<>" {
            let mut k = j + 2;
            while k < chars.len() && chars[k].is_whitespace() {
                k += 1;
            }
            if k < chars.len() && (chars[k] == '\'' || chars[k] == '"') {
                let end = string_end(chars, k);
                let literal: String = chars[k..end].iter().collect();
                out.push_str(&format!("({name} IS NULL OR {name} != {literal})"));
                return end;
            }
        }
    }
    out.push_str(name);
    i
}

/// MLflow's `order_by` list (`["name ASC", "last_updated_timestamp DESC"]`) as one Bindery
/// `order_by`.
pub fn order_by(target: Target, clauses: &[String]) -> ApiResult<String> {
    let mut parts = Vec::with_capacity(clauses.len());
    for clause in clauses {
        let mut words = clause.split_whitespace();
        let Some(name) = words.next() else { continue };
        let direction = match words.next().map(str::to_ascii_uppercase).as_deref() {
            None => "",
            Some("ASC") => " ASC",
            Some("DESC") => " DESC",
            Some(other) => {
                return Err(ApiError::invalid(format!("order_by {clause:?}: {other:?} is not ASC or DESC")));
            }
        };
        if words.next().is_some() {
            return Err(ApiError::invalid(format!("order_by {clause:?}: expected `<field> [ASC|DESC]`")));
        }
        parts.push(format!("{}{direction}", field(target, name)?));
    }
    Ok(parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlflow_fields_become_binderys_and_literals_are_untouched() {
        let t = |f: &str| translate(Target::Versions, f).unwrap();
        assert_eq!(t("name = 'fraud' AND run_id = 'name'"), "name = 'fraud' AND lineage.run_id = 'name'");
        assert_eq!(t("tag.Team ILIKE 'r%' and version_number >= 3"), "tags.Team ILIKE 'r%' and version >= 3");
        assert_eq!(t("tags.`team.name` = \"it's\""), "tags.`team.name` = \"it's\"");
        assert_eq!(t("run_id IN ('a', 'b''c')"), "lineage.run_id IN ('a', 'b''c')");
        assert_eq!(t(""), "");
        assert_eq!(
            translate(Target::Models, "name LIKE 'a%' AND tag.`mlflow.prompt.is_prompt` != 'true'").unwrap(),
            "name LIKE 'a%' AND (tags.`mlflow.prompt.is_prompt` IS NULL OR tags.`mlflow.prompt.is_prompt` != 'true')"
        );
        assert_eq!(translate(Target::Models, "name LIKE 'fr%'").unwrap(), "name LIKE 'fr%'");
        let e = translate(Target::Models, "run_id = 'x'").unwrap_err();
        assert_eq!(e.code, "INVALID_PARAMETER_VALUE");
        assert!(e.message.contains("run_id"), "{}", e.message);
        assert!(translate(Target::Versions, "source_path = 'x'").is_err());
    }

    #[test]
    fn orders_translate_and_bad_directions_are_refused() {
        let clauses = |c: &[&str]| c.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            order_by(Target::Models, &clauses(&["name ASC", "last_updated_timestamp desc"])).unwrap(),
            "name ASC, updated_at DESC"
        );
        assert_eq!(order_by(Target::Versions, &clauses(&["version_number"])).unwrap(), "version");
        assert!(order_by(Target::Models, &clauses(&["name UP"])).is_err());
    }
}
