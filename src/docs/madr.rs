//! A design doc as a Markdown file with MADR-compatible front matter (status, date, deciders):
//! `export` writes one, `import` reads one back (revisions are stored in this format, so any two
//! can be diffed).

use super::model::{Alternative, Content, ExtraSection, Status};

/// The MADR status word for a flowdeck state.
fn madr_status(s: Status, superseded_by: Option<i32>) -> String {
    match s {
        Status::Draft | Status::InReview | Status::ChangesRequested | Status::OnHold => {
            "proposed".into()
        }
        Status::Approved | Status::Implemented => "accepted".into(),
        Status::Rejected => "rejected".into(),
        Status::Withdrawn => "deprecated".into(),
        Status::Superseded => match superseded_by {
            Some(n) => format!("superseded by DD-{n}"),
            None => "superseded".into(),
        },
    }
}

/// The doc as one Markdown file with MADR-compatible front matter.
pub fn export(
    c: &Content,
    number: i32,
    status: Status,
    superseded_by: Option<i32>,
    date: &str,
    owner: &str,
) -> String {
    let mut out = String::new();
    out.push_str("---\n");
    out.push_str(&format!("status: {}\n", madr_status(status, superseded_by)));
    out.push_str(&format!("date: {date}\n"));
    out.push_str(&format!("deciders: {owner}\n"));
    out.push_str(&format!("number: DD-{number}\n"));
    out.push_str(&format!("kind: {}\n", c.kind));
    out.push_str(&format!("tags: [{}]\n", c.tags.join(", ")));
    out.push_str(&format!("target_line: {}\n", c.target_line));
    out.push_str("---\n\n");
    out.push_str(&format!("# {}\n\n", c.title.trim()));
    out.push_str(&format!(
        "## Context and Problem Statement\n\n{}\n\n",
        c.background.trim()
    ));
    out.push_str(&format!(
        "## Decision Drivers\n\n{}\n\n",
        c.objectives.trim()
    ));
    out.push_str("## Considered Options\n\n");
    for a in c.alternatives.iter().filter(|a| !a.is_blank()) {
        out.push_str(&format!("### {}\n\n", a.title.trim()));
        out.push_str(&format!("{}\n\n", a.description.trim()));
        out.push_str(&format!("#### Pros\n\n{}\n\n", a.pros.trim()));
        out.push_str(&format!("#### Cons\n\n{}\n\n", a.cons.trim()));
        out.push_str(&format!("#### References\n\n{}\n\n", a.references.trim()));
        out.push_str(&format!("#### Data\n\n{}\n\n", a.data.trim()));
    }
    out.push_str(&format!(
        "## Decision Outcome\n\n{}\n\n",
        c.conclusion.trim()
    ));
    for e in &c.extra {
        out.push_str(&format!("## {}\n\n{}\n\n", e.title.trim(), e.body.trim()));
    }
    out
}

/// Reads a file written by `export` (or a MADR file with the same headings) back into content.
pub fn import(md: &str) -> Result<Content, String> {
    let md = md.replace("\r\n", "\n");
    let rest = md
        .strip_prefix("---\n")
        .ok_or("The file does not start with front matter (---).")?;
    let (front, body) = rest
        .split_once("\n---\n")
        .ok_or("The front matter is not closed with ---.")?;
    let mut c = Content::default();
    for line in front.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k.trim() {
            "kind" => c.kind = v.to_string(),
            "tags" => {
                c.tags = v
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .split(',')
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .collect()
            }
            "target_line" => c.target_line = v.to_string(),
            _ => {}
        }
    }
    if c.kind.is_empty() {
        c.kind = "decision".into();
    }
    enum Part {
        None,
        Background,
        Objectives,
        Options,
        Conclusion,
        Extra,
    }
    let mut part = Part::None;
    let mut alt_field = "";
    let mut buf = String::new();
    let flush = |c: &mut Content, part: &Part, field: &str, buf: &mut String| {
        let text = buf.trim().to_string();
        buf.clear();
        match part {
            Part::Background => c.background = text,
            Part::Objectives => c.objectives = text,
            Part::Conclusion => c.conclusion = text,
            Part::Extra => {
                if let Some(e) = c.extra.last_mut() {
                    e.body = text;
                }
            }
            Part::Options => {
                if let Some(a) = c.alternatives.last_mut() {
                    match field {
                        "description" => a.description = text,
                        "pros" => a.pros = text,
                        "cons" => a.cons = text,
                        "references" => a.references = text,
                        "data" => a.data = text,
                        _ => {}
                    }
                }
            }
            Part::None => {}
        }
    };
    for line in body.lines() {
        if let Some(t) = line.strip_prefix("# ") {
            flush(&mut c, &part, alt_field, &mut buf);
            c.title = t.trim().to_string();
            part = Part::None;
        } else if let Some(h) = line.strip_prefix("## ") {
            flush(&mut c, &part, alt_field, &mut buf);
            part = match h.trim() {
                "Context and Problem Statement" | "Background" => Part::Background,
                "Decision Drivers" | "Objectives" => Part::Objectives,
                "Considered Options" | "Alternatives" => Part::Options,
                "Decision Outcome" | "Conclusion" => Part::Conclusion,
                other => {
                    c.extra.push(ExtraSection {
                        title: other.to_string(),
                        body: String::new(),
                    });
                    Part::Extra
                }
            };
            alt_field = "";
        } else if let (Part::Options, Some(h)) = (&part, line.strip_prefix("### ")) {
            flush(&mut c, &part, alt_field, &mut buf);
            c.alternatives.push(Alternative {
                title: h.trim().to_string(),
                ..Default::default()
            });
            alt_field = "description";
        } else if let (Part::Options, Some(h)) = (&part, line.strip_prefix("#### ")) {
            flush(&mut c, &part, alt_field, &mut buf);
            alt_field = match h.trim() {
                "Pros" => "pros",
                "Cons" => "cons",
                "References" => "references",
                "Data" => "data",
                _ => "description",
            };
        } else {
            buf.push_str(line);
            buf.push('\n');
        }
    }
    flush(&mut c, &part, alt_field, &mut buf);
    if c.title.is_empty() {
        return Err("The file has no “# Title” line.".into());
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docs::model::tests::complete;

    #[test]
    fn export_then_import_round_trips() {
        let c = complete();
        let md = export(&c, 42, Status::Approved, None, "2026-11-26", "ann");
        assert!(md.starts_with("---\nstatus: accepted\ndate: 2026-11-26\ndeciders: ann\n"));
        assert_eq!(import(&md).unwrap(), c);
        assert!(import("# no front matter").is_err());
    }
}
