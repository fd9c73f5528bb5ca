//! `--teams FILE`: the rules that say which team and cost center a record belongs to, as TOML
//! (`[[rule]]` tables) or CSV (`match,value,team,cost_center`), told apart by the extension, else
//! by the content.

use super::{Field, Rule, Team, Teams};
use std::collections::HashMap;
use std::path::Path;

/// The most rules a file may hold: far above any organisation's team list, and a bound on memory.
pub const MAX_RULES: usize = 100_000;

/// One rule as written, with the line it starts on.
struct Raw {
    line: u64,
    field: String,
    value: String,
    team: String,
    cost_center: String,
}

pub fn load(path: &Path) -> Result<Teams, String> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{shown}: cannot read the teams file: {e}"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let is_toml = match ext.as_deref() {
        Some("toml") => true,
        Some("csv") => false,
        // Content decides: TOML rules are `[[rule]]` tables, a CSV starts with its header.
        _ => text.lines().any(|l| l.trim() == "[[rule]]"),
    };
    let raw = if is_toml {
        from_toml(text).map_err(|e| format!("{shown}: {e}"))?
    } else {
        from_csv(text).map_err(|e| format!("{shown}: {e}"))?
    };
    build(&shown, raw).map_err(|e| format!("{shown}: {e}"))
}

fn from_toml(text: &str) -> Result<Vec<Raw>, String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[serde(default)]
        rule: Vec<toml::Spanned<RawRule>>,
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawRule {
        #[serde(rename = "match")]
        field: String,
        value: String,
        team: String,
        #[serde(default)]
        cost_center: String,
    }
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() as u64 + 1;
    let file: File = toml::from_str(text).map_err(|e| {
        let at = e.span().map(|s| format!("line {}: ", line_of(s.start)));
        format!(
            "{}{} (expected [[rule]] tables with match, value, team and cost_center)",
            at.unwrap_or_default(),
            e.message()
        )
    })?;
    if file.rule.len() > MAX_RULES {
        return Err(format!("more than {MAX_RULES} rules"));
    }
    Ok(file
        .rule
        .into_iter()
        .map(|r| {
            let line = line_of(r.span().start);
            let r = r.into_inner();
            Raw {
                line,
                field: r.field,
                value: r.value,
                team: r.team,
                cost_center: r.cost_center,
            }
        })
        .collect())
}

const CSV_HEADER: [&str; 4] = ["match", "value", "team", "cost_center"];

fn from_csv(text: &str) -> Result<Vec<Raw>, String> {
    let mut rd = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let header = rd
        .headers()
        .map_err(|e| format!("line 1: {e}"))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect::<Vec<_>>();
    let col = |name: &str| header.iter().position(|h| h == name);
    let (Some(f), Some(v), Some(t)) = (col("match"), col("value"), col("team")) else {
        return Err(format!(
            "line 1: expected the header {} (cost_center optional), got {}",
            CSV_HEADER.join(","),
            header.join(",")
        ));
    };
    let cc = col("cost_center");
    let mut out = Vec::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            format!("line {line}: {e}")
        })?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        if rec.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if out.len() == MAX_RULES {
            return Err(format!("line {line}: more than {MAX_RULES} rules"));
        }
        let get = |i: usize| rec.get(i).unwrap_or("").trim().to_string();
        out.push(Raw {
            line,
            field: get(f),
            value: get(v),
            team: get(t),
            cost_center: cc.map(get).unwrap_or_default(),
        });
    }
    Ok(out)
}

fn build(file: &str, raw: Vec<Raw>) -> Result<Teams, String> {
    let mut teams: Vec<Team> = Vec::new();
    let mut team_line: HashMap<String, u64> = HashMap::new();
    let mut rules = Vec::with_capacity(raw.len());
    let mut seen: HashMap<(Field, String), (u64, u32)> = HashMap::new();
    for r in raw {
        let line = r.line;
        let field = Field::parse(r.field.trim()).ok_or_else(|| {
            format!(
                "line {line}: match '{}' is not one of {}",
                r.field,
                Field::ALL.map(Field::name).join(", ")
            )
        })?;
        let value = r.value.trim().to_string();
        if value.is_empty() {
            return Err(format!("line {line}: the rule has no value to match"));
        }
        let name = r.team.trim();
        if name.is_empty() {
            return Err(format!("line {line}: the rule names no team"));
        }
        let cost_center = r.cost_center.trim().to_string();
        let team = match teams.iter().position(|t| t.name == name) {
            Some(i) => {
                if teams[i].cost_center != cost_center {
                    return Err(format!(
                        "line {line}: team {name} has cost center '{cost_center}' here and '{}' on line {}",
                        teams[i].cost_center, team_line[name]
                    ));
                }
                i as u32
            }
            None => {
                teams.push(Team {
                    name: name.to_string(),
                    cost_center,
                });
                team_line.insert(name.to_string(), line);
                (teams.len() - 1) as u32
            }
        };
        if let Some(&(first, other)) = seen.get(&(field, value.clone())) {
            if other != team {
                return Err(format!(
                    "line {line}: {} {value} is already given to team {} on line {first}; a record matches only its first rule, so this one could never apply",
                    field.name(),
                    teams[other as usize].name
                ));
            }
            continue;
        }
        seen.insert((field, value.clone()), (line, team));
        rules.push(Rule { field, value, team });
    }
    if rules.is_empty() {
        return Err("no rules (expected at least one, see the README's Chargeback section)".into());
    }
    Ok(Teams::new(file.to_string(), teams, rules))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    #[test]
    fn toml_and_csv_say_the_same() {
        let (_a, t) = write(
            "teams.toml",
            "[[rule]]\nmatch = \"user\"\nvalue = \"u-1\"\nteam = \"sales\"\ncost_center = \"CC-2\"\n\n\
             [[rule]]\nmatch = \"app\"\nvalue = \"app-1\"\nteam = \"support\"\ncost_center = \"CC-1\"\n",
        );
        let (_b, c) = write(
            "teams.csv",
            "match,value,team,cost_center\nuser,u-1,sales,CC-2\napp,app-1,support,CC-1\n",
        );
        let (t, c) = (load(&t).unwrap(), load(&c).unwrap());
        for teams in [&t, &c] {
            assert_eq!(teams.teams().len(), 2);
            assert_eq!(teams.teams()[0].name, "sales");
            assert_eq!(teams.teams()[1].cost_center, "CC-1");
        }
    }

    #[test]
    fn content_decides_without_an_extension() {
        let (_a, p) = write(
            "teams",
            "[[rule]]\nmatch = \"api_key\"\nvalue = \"k\"\nteam = \"x\"\n",
        );
        assert_eq!(load(&p).unwrap().teams()[0].name, "x");
        let (_b, p) = write("teams.txt", "match,value,team\napi_key,k,y\n");
        assert_eq!(load(&p).unwrap().teams()[0].name, "y");
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let (_a, p) = write(
            "t.toml",
            "[[rule]]\nmatch = \"app\"\nvalue = \"a\"\nteam = \"x\"\n\n[[rule]]\nmatch = \"colour\"\nvalue = \"b\"\nteam = \"y\"\n",
        );
        let e = load(&p).err().unwrap();
        assert!(e.contains("t.toml: line 6: match 'colour'"), "{e}");
        let (_b, p) = write("t.csv", "match,value,team\napp,a,x\napp,a,y\n");
        let e = load(&p).err().unwrap();
        assert!(
            e.contains("t.csv: line 3:") && e.contains("could never apply"),
            "{e}"
        );
        let (_c, p) = write(
            "t.csv",
            "match,value,team,cost_center\napp,a,x,CC-1\nuser,b,x,CC-9\n",
        );
        let e = load(&p).err().unwrap();
        assert!(e.contains("line 3: team x has cost center 'CC-9'"), "{e}");
        let (_d, p) = write("t.toml", "[[rule]]\nmatch = \"app\"\nteam = \"x\"\n");
        let e = load(&p).err().unwrap();
        assert!(e.contains("t.toml: line 1:") && e.contains("value"), "{e}");
        let (_e, p) = write("t.csv", "team,owner\nx,y\n");
        let e = load(&p).err().unwrap();
        assert!(e.contains("line 1: expected the header"), "{e}");
    }
}
