//! Loop instrumentation: an interrupt stops the learner's own loops, and variables are kept.
//!
//! Before a cell is compiled, a cancel check is inserted at the top of the body of every `loop`,
//! `while` and `for` in the cell's source, right after the body's `{`:
//! ```text
//!   for i in 0..n { total += i; }
//!   for i in 0..n {::ferrolab::state::check_cancel_at(1); total += i; }
//! ```
//! The check is one atomic load; on an interrupt it panics with `KeyboardInterrupt` and the cell's
//! line, so the cell stops like any panic and evcxr keeps earlier variables (see
//! `HOW_IT_WORKS.md`, "Interrupts").
//!
//! - The cell is parsed with rust-analyzer's parser (`ra_ap_syntax`), wrapped in a function as
//!   evcxr does (`statement_splitter.rs`). Loops in closures, nested and labeled loops,
//!   `while let`, and loops in fn items and impls declared in the cell all count.
//! - Not instrumented: macro contents (token trees, opaque to the parser), const contexts
//!   (`const`/`static` items, `const fn`, `const { }`, array lengths, enum discriminants, const
//!   generics), and cells that do not parse (they fail to compile anyway: errors stay exact).
//! - No line is added, so lines are unchanged; [`Instrumented::original_column`] maps a column of
//!   the instrumented text back to the cell's, for compile errors.

use ra_ap_syntax::ast::{self, HasLoopBody};
use ra_ap_syntax::{AstNode, Edition, SourceFile, SyntaxKind, SyntaxNode};

/// A cell with cancel checks inserted, and where they went.
pub struct Instrumented {
    pub code: String,
    /// `(line, column, length)`: on 1-based `line`, text of `length` chars was inserted before
    /// the char at 1-based `column` of the original line. Sorted.
    inserts: Vec<(usize, usize, usize)>,
}

/// The inserted call, up to its line argument.
const CHECK_CALL: &str = "::ferrolab::state::check_cancel_at(";

/// The cell wrapped as evcxr wraps it to split statements.
const PRELUDE: &str = "fn f(){";

/// Inserts a cancel check at the top of each loop body of `code`.
pub fn instrument(code: &str) -> Instrumented {
    let unchanged = || Instrumented {
        code: code.to_string(),
        inserts: Vec::new(),
    };
    let parsed = SourceFile::parse(
        &format!("{PRELUDE}{}\n}}", blank_commands(code)),
        Edition::Edition2024,
    );
    if !parsed.errors().is_empty() {
        return unchanged();
    }
    // Byte offsets (in `code`) just after each loop body's `{`, and the loop's line.
    let mut points: Vec<(usize, usize)> = parsed
        .syntax_node()
        .descendants()
        .filter_map(|node| loop_body(&node).map(|body| (node, body)))
        .filter(|(node, _)| !in_const_context(node))
        .filter_map(|(node, body)| {
            let curly = body.stmt_list()?.l_curly_token()?;
            let at = usize::from(curly.text_range().end()).checked_sub(PRELUDE.len())?;
            let start = usize::from(node.text_range().start()).saturating_sub(PRELUDE.len());
            Some((at.min(code.len()), line_of(code, start)))
        })
        .collect();
    if points.is_empty() {
        return unchanged();
    }
    points.sort();
    let mut out = String::with_capacity(code.len() + points.len() * 48);
    let mut inserts = Vec::new();
    let mut done = 0;
    for (at, loop_line) in points {
        out.push_str(&code[done..at]);
        let check = format!("{CHECK_CALL}{loop_line});");
        let line = line_of(code, at);
        let line_start = code[..at].rfind('\n').map_or(0, |i| i + 1);
        let column = code[line_start..at].chars().count() + 1;
        inserts.push((line, column, check.len()));
        out.push_str(&check);
        done = at;
    }
    out.push_str(&code[done..]);
    Instrumented { code: out, inserts }
}

impl Instrumented {
    /// The cell's own column for 1-based `column` on 1-based `line` of the instrumented code (a
    /// column inside an inserted check maps to where it was inserted).
    pub fn original_column(&self, line: usize, column: usize) -> usize {
        let mut shift = 0;
        for &(_, at, len) in self.inserts.iter().filter(|(l, _, _)| *l == line) {
            if column >= at + shift + len {
                shift += len;
            } else if column >= at + shift {
                return at;
            } else {
                break;
            }
        }
        column - shift
    }
}

/// `text` (rustc's own rendering of generated code) without the inserted checks.
pub fn hide_checks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(CHECK_CALL) {
        out.push_str(&rest[..i]);
        let after = &rest[i + CHECK_CALL.len()..];
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        match after[digits..].strip_prefix(");") {
            Some(tail) => rest = tail,
            None => {
                out.push_str(CHECK_CALL);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The body of a `loop`, `while` or `for` expression.
fn loop_body(node: &SyntaxNode) -> Option<ast::BlockExpr> {
    if let Some(l) = ast::LoopExpr::cast(node.clone()) {
        return l.loop_body();
    }
    if let Some(w) = ast::WhileExpr::cast(node.clone()) {
        return w.loop_body();
    }
    ast::ForExpr::cast(node.clone())?.loop_body()
}

/// True inside code the compiler evaluates at compile time, where a call is not allowed.
fn in_const_context(node: &SyntaxNode) -> bool {
    node.ancestors().any(|a| {
        use SyntaxKind::*;
        match a.kind() {
            CONST | STATIC | CONST_ARG | CONST_PARAM | VARIANT | ARRAY_TYPE => true,
            // `[x; n]`: the length is a const context.
            ARRAY_EXPR => a.children_with_tokens().any(|t| t.kind() == SEMICOLON),
            FN | BLOCK_EXPR => a.children_with_tokens().any(|t| t.kind() == CONST_KW),
            _ => false,
        }
    })
}

/// The cell with evcxr's leading command lines (`:dep ...`, `!ls`) blanked, so it parses; byte
/// offsets are unchanged.
fn blank_commands(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut in_header = true;
    for line in code.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let command = body.starts_with('!') || body.trim_start_matches(' ').starts_with(':');
        if in_header && command {
            out.push_str(&" ".repeat(body.len())); // as many bytes: offsets are unchanged
            out.push_str(&line[body.len()..]);
            continue;
        }
        if !(body.starts_with("//") || body.trim().is_empty()) {
            in_header = false;
        }
        out.push_str(line);
    }
    out
}

fn line_of(code: &str, byte: usize) -> usize {
    code[..byte.min(code.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECK: &str = "::ferrolab::state::check_cancel_at";

    #[test]
    fn every_kind_of_loop_gets_a_check_without_new_lines() {
        let cell = "let v = vec![1, 2];\n\
                    let mut n = 0;\n\
                    'outer: for x in &v {\n    while let Some(y) = Some(1) { n += y; break; }\n    loop { break 'outer; }\n}\n\
                    let f = |k: i32| { let mut s = 0; for i in 0..k { s += i; } s };\n\
                    fn g() -> u32 { let mut i = 0; while i < 3 { i += 1; } i }\n\
                    n";
        let out = instrument(cell);
        assert_eq!(out.code.matches(CHECK).count(), 5, "{}", out.code);
        assert_eq!(out.code.lines().count(), cell.lines().count());
        assert!(out
            .code
            .contains("'outer: for x in &v {::ferrolab::state::check_cancel_at(3);"));
        assert!(out.code.contains(
            "while let Some(y) = Some(1) {::ferrolab::state::check_cancel_at(4); n += y;"
        ));
        assert!(out
            .code
            .contains("for i in 0..k {::ferrolab::state::check_cancel_at(7); s += i; }"));
        assert!(out
            .code
            .contains("while i < 3 {::ferrolab::state::check_cancel_at(8); i += 1; }"));
    }

    #[test]
    fn macros_const_contexts_and_broken_cells_are_left_alone() {
        for cell in [
            "println!(\"{}\", { let mut i = 0; loop { i += 1; if i > 2 { break i; } } });",
            "const N: u32 = { let mut i = 0; while i < 3 { i += 1; } i };",
            "static S: u32 = { let mut i = 0; loop { break i; } };",
            "const fn f() -> u32 { let mut i = 0; while i < 3 { i += 1; } i }",
            "let a = [0u8; { let mut i = 0; while i < 3 { i += 1; } i }];",
            "let x = const { let mut i = 0; while i < 3 { i += 1; } i };",
            "enum E { A = { let mut i = 0; while i < 3 { i += 1; } i } }",
            "loop { let x = ; }",
            "let s = \"loop { }\"; // for x in y { }",
        ] {
            let out = instrument(cell);
            if cell.starts_with("println") {
                assert_eq!(out.code, cell);
            } else {
                assert_eq!(out.code.matches(CHECK).count(), 0, "{cell}\n{}", out.code);
            }
        }
    }

    #[test]
    fn command_lines_are_kept_and_the_code_below_instrumented() {
        let cell = ":dep rand = \"0.8\"\n// hi\nlet mut n = 0;\nwhile n < 3 { n += 1; }";
        let out = instrument(cell);
        assert!(
            out.code.starts_with(":dep rand = \"0.8\"\n// hi\n"),
            "{}",
            out.code
        );
        assert!(out
            .code
            .contains("while n < 3 {::ferrolab::state::check_cancel_at(4); n += 1; }"));
    }

    #[test]
    fn columns_map_back_to_the_cell() {
        let cell = "let x = 1;\nloop { loop { x += \"a\"; } }";
        let out = instrument(cell);
        let line = out.code.lines().nth(1).unwrap();
        let len = "::ferrolab::state::check_cancel_at(2);".len();
        // `x` of `x +=` is at column 15 in the cell.
        let col = line.find("x +=").unwrap() + 1;
        assert_eq!(col, 15 + 2 * len);
        assert_eq!(out.original_column(2, col), 15);
        assert_eq!(out.original_column(2, 3), 3); // before any insert
        assert_eq!(out.original_column(2, 8 + 3), 7); // inside the first check
        assert_eq!(out.original_column(1, 5), 5); // another line
        assert_eq!(hide_checks(&out.code), cell);
    }
}
