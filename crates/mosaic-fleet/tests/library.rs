//! The persona library, system-type profiles, the override layer, the
//! roster schema and the north-star projection.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use mosaic_fleet::Runtime;
use mosaic_fleet::library::{
    self, LIBRARY_INDEX, PersonaLibrary, Profile, ProfileSet, ROSTER_SCHEMA, Source, provision,
};
use mosaic_fleet::northstar::{NorthStar, render_markdown};
use mosaic_fleet::presets::Preset;
use mosaic_fleet::roster::{count_enhancers, count_orchestrators, to_yaml};
use serde_json::Value;
use support::Home;

const ENGINEERING: [&str; 14] = [
    "orchestrator",
    "board",
    "planner",
    "decomposition",
    "code",
    "review",
    "security-review",
    "site-tester",
    "documentation",
    "merge-gate",
    "rebase",
    "operator",
    "session-review",
    "enhancer",
];

#[test]
fn the_library_has_every_role_of_every_domain() {
    let lib = PersonaLibrary::baseline().unwrap();
    assert_eq!(lib.len(), 53);
    let domains: [(&str, usize); 9] = [
        ("executive", 5),
        ("product", 3),
        ("marketing", 7),
        ("sales", 3),
        ("operations", 7),
        ("research", 5),
        ("assistant", 4),
        ("customer", 2),
        ("creative", 3),
    ];
    for (domain, n) in domains {
        assert_eq!(
            lib.iter()
                .filter(|p| p.domain.as_deref() == Some(domain))
                .count(),
            n,
            "{domain}"
        );
    }
    for class in ENGINEERING {
        let p = lib.get(class).unwrap_or_else(|| panic!("{class}"));
        assert_eq!(
            p.domain, None,
            "engineering personas carry no domain: {class}"
        );
    }
    for p in lib.iter() {
        assert!(
            p.markdown.contains("## Mandate")
                && p.markdown.contains("## Boundaries")
                && p.markdown.contains("## Persona"),
            "{}",
            p.class
        );
        assert!(p.markdown.contains("**Does NOT"), "{}", p.class);
        assert!(p.persistent.is_some(), "{} has a lifecycle marker", p.class);
        let footer = p.markdown.trim_end().lines().last().unwrap();
        match &p.domain {
            Some(d) => assert_eq!(
                footer,
                format!("> Doctrine: cross-domain persona library ({d}); see `LIBRARY.md`.")
            ),
            None => assert!(
                footer.starts_with("> Doctrine: `docs/fleet/north-star.md`"),
                "{footer}"
            ),
        }
    }
    assert_eq!(lib.get("orchestrator").unwrap().persistent, Some(true));
    assert_eq!(lib.get("enhancer").unwrap().persistent, Some(true));
    assert_eq!(lib.get("copywriter").unwrap().persistent, Some(false));
    assert_eq!(lib.get("code").unwrap().title, "Code");
}

#[test]
fn library_index_rows_match_the_files() {
    let lib = PersonaLibrary::baseline().unwrap();
    let rows: Vec<&str> = LIBRARY_INDEX
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| Persona") && !l.starts_with("| -"))
        .map(|l| {
            l.trim_start_matches("| ")
                .split(" |")
                .next()
                .unwrap()
                .trim()
        })
        .collect();
    let mut files: Vec<&str> = lib.iter().map(|p| p.class.as_str()).collect();
    let mut indexed = rows.clone();
    files.sort_unstable();
    indexed.sort_unstable();
    assert_eq!(indexed, files);
}

#[test]
fn the_five_profiles_are_valid() {
    let lib = PersonaLibrary::baseline().unwrap();
    let set = ProfileSet::baseline().unwrap();
    let ids: Vec<&str> = set.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "business",
            "marketing",
            "personal-assistant",
            "research",
            "software-delivery"
        ]
    );
    for p in set.iter() {
        assert_eq!(p.problems(&lib), Vec::<String>::new(), "{}", p.id);
        assert!(p.roster.iter().all(|s| s.multiplicity >= 1));
    }
    let sd = set.get("software-delivery").unwrap();
    assert_eq!(sd.lead, "orchestrator");
    assert_eq!(sd.floor, ["orchestrator", "enhancer"]);
    let leads: Vec<(&str, &str)> = set
        .iter()
        .map(|p| (p.id.as_str(), p.lead.as_str()))
        .collect();
    assert_eq!(
        leads,
        [
            ("business", "ceo"),
            ("marketing", "marketing-lead"),
            ("personal-assistant", "personal-assistant"),
            ("research", "lead-researcher"),
            ("software-delivery", "orchestrator"),
        ]
    );
}

#[test]
fn profile_validation_names_every_problem() {
    let lib = PersonaLibrary::baseline().unwrap();
    let yaml = "id: bad\ntitle: Bad\ndescription: x\nlead: ceo\nfloor: [ceo, wizard]\nroster:\n  - class: ceo\n    reports_to: coo\n  - class: cfo\n    reports_to: nobody\n    multiplicity: 0\n";
    let p = Profile::parse("bad", yaml, "bad.yaml").unwrap();
    let problems = p.problems(&lib).join("\n");
    for needle in [
        "floor class `wizard` is not a persona",
        "reports_to `nobody` is not a persona",
        "seat `ceo` reports to `coo`, which is not a seat",
        "multiplicity 0",
        "the lead `ceo` must not report to anyone",
        "floor class `wizard` has no seat",
    ] {
        assert!(problems.contains(needle), "{needle}\n{problems}");
    }
    let err = Profile::parse(
        "other",
        "id: bad\ntitle: t\ndescription: d\nlead: a\nfloor: []\nroster: []\n",
        "other.yaml",
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("must equal the file name"),
        "{err}"
    );
    let err = Profile::parse(
        "Bad_Id",
        "id: Bad_Id\ntitle: t\ndescription: d\nlead: a\nfloor: []\nroster: []\n",
        "x",
    )
    .unwrap_err();
    assert!(err.to_string().contains("kebab-case"), "{err}");
    // `notes` may sit at the top or on a seat.
    Profile::parse("n", "id: n\ntitle: t\ndescription: d\nlead: a\nfloor: []\nroster:\n  - class: a\n    notes: staffed\nnotes: top\n", "n").unwrap();
}

#[test]
fn provisioning_builds_a_roster_from_a_profile() {
    let lib = PersonaLibrary::baseline().unwrap();
    let set = ProfileSet::baseline().unwrap();
    let roster = provision(set.get("software-delivery").unwrap(), &lib).unwrap();
    let names: Vec<&str> = roster.agents.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        &names[..6],
        [
            "orchestrator",
            "board",
            "planner",
            "decomposition",
            "code0",
            "code1"
        ]
    );
    assert_eq!(names.len(), 15);
    assert_eq!(
        (count_orchestrators(&roster), count_enhancers(&roster)),
        (1, 1)
    );
    let code1 = roster.agent("code1").unwrap();
    assert_eq!(
        (code1.runtime, code1.reports_to.as_deref()),
        (Runtime::Pi, Some("decomposition"))
    );
    assert_eq!(roster.agent("enhancer").unwrap().runtime, Runtime::Claude);
    assert_eq!(roster.agent("orchestrator").unwrap().reports_to, None);
    let business = provision(set.get("business").unwrap(), &lib).unwrap();
    assert_eq!(business.agents[0].name.as_str(), "ceo");
    assert_eq!(business.agents[0].runtime, Runtime::Claude);
    // Every provisioned roster round-trips and every class has a persona.
    for p in set.iter() {
        let r = provision(p, &lib).unwrap();
        let back = mosaic_fleet::roster::Roster::from_yaml(&to_yaml(&r), "t").unwrap();
        assert_eq!(back, r);
        assert!(r.agents.iter().all(|a| lib.contains(&a.class)));
    }
}

#[test]
fn overrides_win_and_survive_reseeding() {
    let home = Home::new();
    library::seed(&home.paths).unwrap();
    let custom = "# Code — fleet role definition\n\nOur **code** seat (`class: code`) follows the house rules.\n";
    std::fs::write(home.paths.override_roles_dir().join("code.md"), custom).unwrap();
    let added =
        "# Tax Advisor — fleet role definition\n\n(`class: tax-advisor`, `domain: finance`)\n";
    std::fs::write(
        home.paths.override_roles_dir().join("tax-advisor.md"),
        added,
    )
    .unwrap();
    let profile = "id: tax\ntitle: Tax\ndescription: d\nlead: tax-advisor\nfloor: [tax-advisor]\nroster:\n  - class: tax-advisor\n";
    std::fs::write(home.paths.override_profiles_dir().join("tax.yaml"), profile).unwrap();
    // Someone edits the baseline copy too: re-seeding restores it.
    std::fs::write(home.paths.roles_dir().join("code.md"), "edited").unwrap();

    library::seed(&home.paths).unwrap();
    assert_eq!(
        std::fs::read_to_string(home.paths.override_roles_dir().join("code.md")).unwrap(),
        custom
    );
    assert_ne!(
        std::fs::read_to_string(home.paths.roles_dir().join("code.md")).unwrap(),
        "edited"
    );

    let lib = PersonaLibrary::with_overrides(&home.paths.override_roles_dir()).unwrap();
    let code = lib.get("code").unwrap();
    assert!(matches!(code.source, Source::Override(_)));
    assert!(code.markdown.contains("house rules"));
    assert_eq!(
        lib.get("tax-advisor").unwrap().domain.as_deref(),
        Some("finance")
    );
    assert_eq!(lib.get("review").unwrap().source, Source::Baseline);
    let set = ProfileSet::with_overrides(&home.paths.override_profiles_dir()).unwrap();
    let roster = provision(set.get("tax").unwrap(), &lib).unwrap();
    assert_eq!(roster.agents[0].name.as_str(), "tax-advisor");

    let bad = "# Oops\n";
    std::fs::write(home.paths.override_roles_dir().join("oops.md"), bad).unwrap();
    let err = PersonaLibrary::with_overrides(&home.paths.override_roles_dir()).unwrap_err();
    assert!(
        err.to_string().contains("oops.md") && err.to_string().contains("fleet role definition"),
        "{err}"
    );
}

/// Checks `value` against the subset of JSON Schema the roster schema uses:
/// type, const, enum, required, properties, additionalProperties, items,
/// minLength and pattern.
fn validate(schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(s) = schema.as_object() else { return };
    if let Some(t) = s.get("type").and_then(Value::as_str) {
        let ok = match t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "boolean" => value.is_boolean(),
            "integer" => value.is_i64() || value.is_u64(),
            _ => true,
        };
        if !ok {
            errors.push(format!("{at}: not {t}"));
            return;
        }
    }
    if let Some(c) = s.get("const")
        && c != value
    {
        errors.push(format!("{at}: not {c}"));
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array)
        && !e.contains(value)
    {
        errors.push(format!("{at}: {value} not in enum"));
    }
    if let (Some(min), Some(text)) = (s.get("minLength").and_then(Value::as_u64), value.as_str())
        && (text.chars().count() as u64) < min
    {
        errors.push(format!("{at}: shorter than {min}"));
    }
    if let (Some(p), Some(text)) = (s.get("pattern").and_then(Value::as_str), value.as_str())
        && !regex::Regex::new(p).unwrap().is_match(text)
    {
        errors.push(format!("{at}: {text:?} does not match {p}"));
    }
    if let Some(obj) = value.as_object() {
        let props = s.get("properties").and_then(Value::as_object);
        for req in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !obj.contains_key(req.as_str().unwrap()) {
                errors.push(format!("{at}: missing {req}"));
            }
        }
        for (k, v) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(sub) => validate(sub, v, &format!("{at}.{k}"), errors),
                None if s.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{at}: unexpected {k}"));
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (s.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            validate(items, v, &format!("{at}[{i}]"), errors);
        }
    }
}

fn schema_errors(yaml: &str) -> Vec<String> {
    let schema: Value = serde_json::from_str(ROSTER_SCHEMA).unwrap();
    let value: Value = serde_norway::from_str(yaml).unwrap();
    let mut errors = Vec::new();
    validate(&schema, &value, "$", &mut errors);
    errors
}

#[test]
fn presets_and_provisioned_rosters_validate_against_the_schema() {
    for preset in Preset::ALL {
        assert_eq!(
            schema_errors(preset.yaml()),
            Vec::<String>::new(),
            "{preset}"
        );
        assert_eq!(
            schema_errors(&to_yaml(&preset.roster().unwrap())),
            Vec::<String>::new(),
            "{preset}"
        );
    }
    let lib = PersonaLibrary::baseline().unwrap();
    for p in ProfileSet::baseline().unwrap().iter() {
        assert_eq!(
            schema_errors(&to_yaml(&provision(p, &lib).unwrap())),
            Vec::<String>::new(),
            "{}",
            p.id
        );
    }
    let with_connector = "version: 1\nconnector:\n  kind: matrix\n  matrix:\n    homeserver_url: https://m\n    user_id: '@a:m'\n    room_id: '!r:m'\nagents: []\n";
    assert_eq!(schema_errors(with_connector), Vec::<String>::new());
    let bad = [
        ("version: 2\nagents: []\n", "not 1"),
        (
            "version: 1\nagents:\n  - {name: a, runtime: gpt}\n",
            "not in enum",
        ),
        (
            "version: 1\nagents:\n  - {name: '-a', runtime: pi}\n",
            "does not match",
        ),
        (
            "version: 1\nagents:\n  - {name: a, runtime: pi, modle_hint: x}\n",
            "unexpected modle_hint",
        ),
        (
            "version: 1\nconnector: {kind: matrix, matrix: {user_id: u}}\nagents: []\n",
            "missing",
        ),
        ("version: 1\n", "missing \"agents\""),
    ];
    for (yaml, needle) in bad {
        let errors = schema_errors(yaml).join("\n");
        assert!(errors.contains(needle), "{yaml}: {errors}");
        // The Rust model refuses the same documents.
        assert!(
            mosaic_fleet::roster::Roster::from_yaml(yaml, "t").is_err(),
            "{yaml}"
        );
    }
}

const NORTH_STAR: &str = r#"# comment
version: 1
mission: >-
  Run a small fleet
  that ships.
substrate:
  note: >-
    The native backlog.
standing_objectives:
  - id: NS-1
    text: One source drives planning.
  - id: NS-2
    text: >-
      Every item is
      shippable.
success_criteria:
  - id: AC-NS-1
    text: The floor stays healthy.
workstreams:
  - id: A
    title: Substrate
  - id: H
    title: Personas & system profiles
goals:
  - id: A1
    title: Machine-readable goals
    phase: 1
    priority: must-have
    depends_on: []
  - id: B2
    title: Dispatch
    phase: 2
    priority: should-have
    depends_on: [A1, H1]
  - id: H1
    title: Personas
    phase: 1
    priority: must-have
    depends_on: [A1]
assumptions:
  - id: ASM-1
    vetoable: true
    text: 'Two-agent floor = 1 orchestrator + >=1 enhancer.'
  - id: ASM-2
    vetoable: false
    text: Fixed.
spend:
  advisory: true
  note: No meter yet.
"#;

#[test]
fn north_star_projection_is_exact() {
    let ns = NorthStar::parse(NORTH_STAR, "NORTH_STAR.yaml").unwrap();
    let want = "\
# Mosaic Fleet — NORTH STAR

> **Generated file — do not edit by hand.**
> Projected deterministically from [`NORTH_STAR.yaml`](./NORTH_STAR.yaml) by
> `mosaic fleet north-star` (`mosaic_fleet::northstar::render_markdown`).
> Edit the YAML, then regenerate.

## Mission

Run a small fleet that ships.

## Substrate

The native backlog.

## Standing objectives

- **NS-1** — One source drives planning.
- **NS-2** — Every item is shippable.

## Success criteria

- **AC-NS-1** — The floor stays healthy.

## Workstreams

| id  | title                      |
| --- | -------------------------- |
| A   | Substrate                  |
| H   | Personas & system profiles |

## Goals (backlog projection)

| id  | title                  | phase | priority    | depends_on |
| --- | ---------------------- | ----- | ----------- | ---------- |
| A1  | Machine-readable goals | 1     | must-have   | —          |
| B2  | Dispatch               | 2     | should-have | A1, H1     |
| H1  | Personas               | 1     | must-have   | A1         |

## Assumptions (vetoable)

- **ASM-1** (vetoable) — Two-agent floor = 1 orchestrator + >=1 enhancer.
- **ASM-2** (fixed) — Fixed.

## Spend

- **advisory:** true
- No meter yet.
";
    assert_eq!(render_markdown(&ns), want);
    assert_eq!(
        render_markdown(&ns),
        render_markdown(&NorthStar::parse(NORTH_STAR, "x").unwrap())
    );
}

#[test]
fn north_star_rejects_broken_input() {
    let err = NorthStar::parse(&NORTH_STAR.replace("[A1, H1]", "[A1, Z9]"), "ns.yaml").unwrap_err();
    assert!(err.to_string().contains("B2 depends on Z9"), "{err}");
    let err = NorthStar::parse(&NORTH_STAR.replace("spend:", "spending:"), "ns.yaml").unwrap_err();
    assert!(err.to_string().starts_with("ns.yaml:"), "{err}");
}

#[test]
fn the_committed_north_star_markdown_is_current() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/fleet");
    let yaml = std::fs::read_to_string(root.join("NORTH_STAR.yaml")).unwrap();
    let md = std::fs::read_to_string(root.join("NORTH_STAR.md")).unwrap_or_default();
    let want = render_markdown(&NorthStar::parse(&yaml, "NORTH_STAR.yaml").unwrap());
    assert!(
        md == want,
        "docs/fleet/NORTH_STAR.md is stale; run `mosaic fleet north-star --file docs/fleet/NORTH_STAR.yaml --output docs/fleet/NORTH_STAR.md`"
    );
}
