"""Protocol conformance with jupyter_kernel_test: every test of the package has a real sample.

jupyter_kernel_test validates each message against the v5 message schemas."""

import unittest

import jupyter_kernel_test as jkt
from kernel_helpers import KERNEL_NAME, WARM_TIMEOUT


class FerrolabKernelTests(jkt.KernelTests):
    kernel_name = KERNEL_NAME
    language_name = "rust"
    file_extension = ".rs"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The first cell waits for the engine to load; the package's timeout is 15 s.
        try:
            reply = cls.kc.execute_interactive("1", timeout=WARM_TIMEOUT)
            assert reply["content"]["status"] == "ok", reply
        except BaseException:
            cls.tearDownClass()
            raise

    code_hello_world = 'println!("hello, world");'
    code_stderr = 'eprintln!("something went wrong");'

    completion_samples = [
        {"text": "let some_long_name = 1;\nsome_long_na", "matches": {"some_long_name"}},
        {"text": "std::vec::Ve", "matches": {"Vec"}},
        # Bare names (Jupyter inserts matches verbatim); signatures go to the metadata.
        {"text": "let cv: Vec<u8> = Vec::with_capa", "matches": {"with_capacity"}},
    ]

    complete_code_samples = [
        "let x = 1;",
        "fn square(x: f32) -> f32 { x * x }",
        'let s = "a } in a string";',
        "let c = '{';",
        "fn first<'a>(s: &'a str) -> &'a str { s }",
        ":dep rand",
    ]
    incomplete_code_samples = [
        "fn square(x: f32) -> f32 {",
        "let v = vec![1, 2,",
        'let s = "an open string',
        "/* an open comment",
    ]
    # A lone `'` is an unterminated char literal, which no further line can close.
    invalid_code_samples = ["let x = (1 + 2]);", "}", "'", "let c = '"]

    # `?item` pages the docs of item, like IPython's `?obj`.
    code_page_something = "?Vec"

    code_generate_error = 'panic!("boom")'

    code_execute_result = [
        {"code": "1 + 2", "result": "3"},
        {"code": "6 * 9", "result": "54"},
        {"code": "let v = vec![1, 2, 3]; v.len()", "result": "3"},
        {"code": 'format!("{}-{}", "a", "b")', "result": '"a-b"'},
        {"code": "tensor([1.0f32, 2.0]).to_vec::<f32>()", "result": "[1.0, 2.0]"},
    ]

    # Through the engine's display line protocol (DESIGN.md, "How a cell flows").
    code_display_data = [
        {
            "code": 'ferrolab::display::send_display(&vec![("text/html".to_string(), '
            '"<b>hi</b>".to_string())], None, false);',
            "mime": "text/html",
        },
        {
            "code": 'ferrolab::display::send_display(&vec![("text/plain".to_string(), '
            '"plain".to_string())], Some("d-1"), false);',
            "mime": "text/plain",
        },
    ]

    # A glob, as IPython's: its `*` is a wildcard even where the input has a `*` ("6 * 9").
    code_history_pattern = "6 *9"
    supported_history_operations = ("tail", "range", "search")

    code_inspect_sample = "Vec"

    code_clear_output = "ferrolab::display::clear_output(false);"


class FerrolabIopubWelcomeTests(jkt.IopubWelcomeTests):
    kernel_name = KERNEL_NAME
    support_iopub_welcome = True


if __name__ == "__main__":
    unittest.main()
