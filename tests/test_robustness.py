"""Robustness through jupyter_client and raw ZeroMQ: forged and malformed messages, panics,
interrupts, crashes, and what a learner sees in each case."""

import json
import os
import tempfile
import time
import uuid

import pytest
import zmq
from jupyter_client.session import Session
from kernel_helpers import collect, run, start_kernel, wait_for_stdout


def shell_socket(kc):
    """A fresh DEALER socket on the kernel's shell port."""
    info = kc.get_connection_info()
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(f"{info['transport']}://{info['ip']}:{info['shell_port']}")
    return sock, info


def recv_reply(sock, session, timeout):
    if sock.poll(int(timeout * 1000)):
        _, msg = session.feed_identities(sock.recv_multipart())
        return session.deserialize(msg)
    return None


def test_badly_signed_execute_is_not_run(kernel):
    marker = os.path.join(tempfile.mkdtemp(), "ran")
    code = f"std::fs::write({json.dumps(marker)}, \"ran\").unwrap();"
    sock, info = shell_socket(kernel)
    forged = Session(key=b"not-the-key", signature_scheme=info["signature_scheme"])
    forged.send(sock, "execute_request", {"code": code, "silent": False, "store_history": True,
                                          "user_expressions": {}, "allow_stdin": False,
                                          "stop_on_error": True})
    # Unsigned too: an empty signature with a key set.
    unsigned = Session(key=b"")
    unsigned.send(sock, "execute_request", {"code": code, "silent": False, "store_history": True,
                                            "user_expressions": {}, "allow_stdin": False,
                                            "stop_on_error": True})
    assert recv_reply(sock, forged, timeout=4) is None
    assert not os.path.exists(marker), "a forged execute_request was run"
    # The same code, signed with the right key, runs.
    real = Session(key=info["key"], signature_scheme=info["signature_scheme"])
    real.send(sock, "execute_request", {"code": code, "silent": False, "store_history": True,
                                        "user_expressions": {}, "allow_stdin": False,
                                        "stop_on_error": True})
    reply = recv_reply(sock, real, timeout=60)
    assert reply and reply["content"]["status"] == "ok"
    assert os.path.exists(marker)
    sock.close()


def test_garbage_frames_and_unknown_types_then_still_answers(kernel):
    sock, info = shell_socket(kernel)
    sock.send_multipart([b"garbage"])
    sock.send_multipart([b"<IDS|MSG>"])
    sock.send_multipart([b"<IDS|MSG>", b"00", b"{", b"}", b"{}", b"{}"])
    sock.send_multipart([b"<IDS|MSG>", b"zz-not-hex", b"{}", b"{}", b"{}", b"{}"])
    session = Session(key=info["key"], signature_scheme=info["signature_scheme"])
    session.send(sock, "frobnicate_request", {"x": 1})
    session.send(sock, "execute_request", {"code": 42})  # wrong content type
    time.sleep(0.5)
    session.send(sock, "kernel_info_request", {})
    deadline = time.time() + 10
    while time.time() < deadline:
        reply = recv_reply(sock, session, timeout=1)
        if reply and reply["msg_type"] == "kernel_info_reply":
            break
    else:
        pytest.fail("no kernel_info_reply after garbage")
    assert reply["content"]["implementation"] == "ferrolab"
    assert run(kernel, "40 + 2").result() == "42"
    sock.close()


def test_heartbeat_echoes(kernel):
    info = kernel.get_connection_info()
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(f"{info['transport']}://{info['ip']}:{info['hb_port']}")
    sock.send(b"ping-123")
    assert sock.poll(5000), "no heartbeat"
    assert sock.recv() == b"ping-123"
    sock.close()


def test_panic_keeps_earlier_variables(kernel):
    assert run(kernel, "let mut kept = vec![1, 2, 3];").status == "ok"
    cell = run(kernel, 'kept.push(4);\npanic!("boom: {}", kept.len());')
    assert cell.status == "error"
    errors = cell.of_type("error")
    assert len(errors) == 1, cell.outputs
    assert errors[0]["content"]["ename"] == "panic"
    assert errors[0]["content"]["evalue"] == "boom: 4"
    assert run(kernel, "kept.len()").result() == "4"


def test_a_tensor_too_big_for_memory_is_an_error_that_keeps_variables(kernel):
    assert run(kernel, "let small = tensor([1.0f32, 2.0]);").status == "ok"
    # 4 PiB: the system refuses it at once; a plain Rust allocation would abort the process.
    cell = run(kernel, "let huge = zeros([1usize << 50]);")
    assert cell.status == "error"
    errors = cell.of_type("error")
    assert len(errors) == 1, cell.outputs
    assert "out of memory on cpu: asked for" in errors[0]["content"]["evalue"]
    assert run(kernel, "small.sum().to_vec::<f32>()[0]").result() == "3.0"


def test_compile_error_points_at_the_line_in_the_cell(kernel):
    cell = run(kernel, 'let a = 1;\nlet b: i32 = "two";')
    assert cell.status == "error"
    assert [m["msg_type"] for m in cell.outputs] == ["error"]
    error = cell.error()
    assert error["ename"] == "CompileError"
    assert "E0308" in error["evalue"]
    text = "\n".join(error["traceback"])
    assert "cell line 2" in text and 'let b: i32 = "two";' in text


def test_interrupt_stops_an_engine_loop_and_keeps_state(kernel):
    from jupyter_client.manager import KernelManager  # noqa: F401  (interrupts go through km)

    assert run(kernel, "let before = 41;").status == "ok"
    code = (
        'println!("started");\n'
        "loop { ferrolab::state::check_cancel(); "
        "std::thread::sleep(std::time::Duration::from_millis(10)); }"
    )
    msg_id = kernel.execute(code)
    wait_for_stdout(kernel, msg_id, "started")
    t0 = time.time()
    kernel.parent.interrupt_kernel()
    cell = collect(kernel, msg_id, timeout=30)
    assert cell.reply_time - t0 < 2.0, "an engine loop should stop at once"
    assert cell.status == "error"
    assert cell.error()["ename"] == "KeyboardInterrupt"
    assert run(kernel, "before + 1").result() == "42"


def test_interrupt_while_compiling_keeps_state(kernel):
    assert run(kernel, "let still_here = 5;").status == "ok"
    # 2^18 macro expansions: seconds of compiling, nothing to run.
    code = (
        "macro_rules! m { (0) => {}; (1 $($t:tt)*) => { m!($($t)*); m!($($t)*); }; }\n"
        "m!(1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 0);"
    )
    msg_id = kernel.execute(code)
    time.sleep(1.0)
    t0 = time.time()
    kernel.parent.interrupt_kernel()
    cell = collect(kernel, msg_id, timeout=60)
    assert cell.reply_time - t0 < 2.0
    assert cell.error()["ename"] == "KeyboardInterrupt"
    assert "compiling" in cell.error()["evalue"]
    assert run(kernel, "still_here").result() == "5"


def test_segfault_leaves_the_kernel_alive(kernel):
    cell = run(kernel, "unsafe { std::ptr::read_volatile(std::ptr::null::<u8>()) };")
    assert cell.status == "error"
    error = cell.error()
    assert error["ename"] == "KernelCrash"
    assert "variables were lost" in error["evalue"]
    assert run(kernel, "6 * 7").result() == "42"
    cell = run(kernel, 'panic!("after restart")')  # the panic hook is back in the new child
    assert cell.error()["ename"] == "panic"


def test_stop_on_error_aborts_queued_cells(kernel):
    first = kernel.execute('panic!("first")')
    queued = [kernel.execute("1 + 1"), kernel.execute("2 + 2")]
    assert collect(kernel, first).status == "error"
    for msg_id in queued:
        assert collect(kernel, msg_id).status == "aborted"
    assert run(kernel, "3 + 3").result() == "6"


def test_output_arrives_while_the_cell_runs(kernel):
    code = (
        'println!("first");\n'
        'ferrolab::display::send_display(&vec![("text/plain".to_string(), "early".to_string())], '
        'Some("progress-1"), false);\n'
        "std::thread::sleep(std::time::Duration::from_millis(1500));\n"
        'ferrolab::display::send_display(&vec![("text/plain".to_string(), "late".to_string())], '
        'Some("progress-1"), true);\n'
        'println!("second");'
    )
    cell = run(kernel, code)
    assert cell.status == "ok"
    kinds = [m["msg_type"] for m in cell.outputs]
    assert kinds == ["stream", "display_data", "update_display_data", "stream"], kinds
    # The first stream and the display came out at least a second before the cell ended.
    assert cell.reply_time - cell.arrivals[0] > 1.0
    assert cell.reply_time - cell.arrivals[1] > 1.0
    update = cell.of_type("update_display_data")[0]["content"]
    assert update["transient"]["display_id"] == "progress-1"


def test_evcxr_content_blocks_are_accepted(kernel):
    cell = run(kernel, 'println!("EVCXR_BEGIN_CONTENT text/html\\n<i>evcxr</i>\\nEVCXR_END_CONTENT");')
    results = cell.of_type("execute_result")
    assert results and results[0]["content"]["data"]["text/html"] == "<i>evcxr</i>"


def test_silent_and_store_history(kernel):
    before = run(kernel, "1").reply["content"]["execution_count"]
    silent = run(kernel, 'println!("quiet"); 5', silent=True)
    assert silent.status == "ok" and silent.outputs == []
    unstored = run(kernel, "5", store_history=False)
    assert unstored.result() == "5"
    after = run(kernel, "1").reply["content"]["execution_count"]
    assert after == before + 1


def test_user_expressions(kernel):
    cell = run(kernel, "let ue = 20;", user_expressions={"a": "ue + 1", "bad": "nope_"})
    exprs = cell.reply["content"]["user_expressions"]
    assert exprs["a"]["status"] == "ok" and exprs["a"]["data"]["text/plain"] == "21"
    assert exprs["bad"]["status"] == "error"


def test_magics(kernel):
    assert "GPU" in run(kernel, ":gpu").stdout()
    shell = run(kernel, "!echo from-a-shell; echo to-stderr 1>&2")
    assert shell.stdout() == "from-a-shell\n"
    assert run(kernel, "!exit 3").error()["ename"] == "ShellError"
    assert run(kernel, "let magic_var = 1u8;").status == "ok"
    assert "magic_var" in (run(kernel, ":vars").result() or "")
    assert ":gpu" in run(kernel, ":help").stdout()
    timing = run(kernel, ":timing\n1 + 1")
    assert timing.status == "ok"
    run(kernel, ":timing")


def test_completion_and_inspect_of_engine_items(kernel):
    reply = kernel.complete("Tensor::zer", 11, reply=True, timeout=60)
    assert "zeros" in " ".join(reply["content"]["matches"])
    reply = kernel.inspect("Tensor", 6, reply=True, timeout=60)
    assert reply["content"]["found"]
    assert "Tensor" in reply["content"]["data"]["text/plain"]


def test_several_kernels_at_once():
    import concurrent.futures as cf

    def one(i):
        km, kc = start_kernel()
        try:
            cell = run(kc, f"let t = tensor([[{i}.0f32, 0.0], [0.0, 1.0]]); t.matmul(&t).to_vec::<f32>()")
            return cell.result()
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)

    with cf.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(one, [2, 3]))
    assert results == ["[4.0, 0.0, 0.0, 1.0]", "[9.0, 0.0, 0.0, 1.0]"]


def test_history_survives_a_restart_and_shutdown_cleans_up():
    marker = f"let history_marker = {uuid.uuid4().int % 10**9};"
    km, kc = start_kernel()
    pid = km.provisioner.process.pid
    build_dir = os.path.join(tempfile.gettempdir(), f"ferrolab-kernel-{pid}")
    assert os.path.isdir(build_dir)
    assert run(kc, marker).status == "ok"
    km.restart_kernel(now=False)
    kc.wait_for_ready(timeout=60)
    # A new kernel counts from 1 again.
    assert run(kc, "2 + 2", timeout=180).reply["content"]["execution_count"] == 1
    assert not os.path.exists(build_dir), "the old kernel left its build dir"
    reply = kc.history(hist_access_type="tail", n=100, output=False, raw=True, reply=True, timeout=30)
    entries = reply["content"]["history"]
    assert any(code == marker for _, _, code in entries)
    kc.stop_channels()
    km.shutdown_kernel(now=False)
