//! Issue 13: the repository's own documents carry the design, the files' layouts and the API:
//! nothing sends the reader outside the repository (`../shared/…`), and what they name exists.

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_docs_are_in_the_repository() {
    for path in ["README.md", "docs/DESIGN.md", "docs/FILES.md", "docs/DEPLOY.md", "docs/DATA.md", "docs/PERFORMANCE.md"] {
        let text = read(path);
        assert!(!text.contains("../shared"), "{path} points outside the repository");
    }
    let readme = read("README.md");
    for named in ["docs/DESIGN.md", "docs/FILES.md", "docs/openapi.yaml"] {
        assert!(readme.contains(named), "README names {named}");
    }
    let design = read("docs/DESIGN.md");
    // Headings the code cites ("DESIGN.md Part 2, \"Pacing\"", …).
    for heading in ["## HTTP contract", "## Mail, part 2", "### Pacing", "## Sessions and hand-off", "### Rules of an import"] {
        assert!(design.contains(heading), "docs/DESIGN.md has {heading}");
    }
    let files = read("docs/FILES.md");
    for column in ["member_id", "insurer_number", "birth_date", "record_id", "service_month", "benefit_code"] {
        assert!(files.contains(column), "docs/FILES.md describes {column}");
    }
}
