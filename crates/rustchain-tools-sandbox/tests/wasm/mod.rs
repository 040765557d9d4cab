//! WAT test plugins for the WASM containment tests.
#![allow(dead_code)]

/// The bump allocator every test plugin exports, above address 1024.
const ALLOC: &str = r#"
  (global $next (mut i32) (i32.const 1024))
  (func $alloc (export "alloc") (param $len i32) (result i32)
    (local $at i32) (local $end i32) (local $size i32)
    (local.set $at (global.get $next))
    (local.set $end (i32.add (local.get $at) (local.get $len)))
    (local.set $size (i32.mul (memory.size) (i32.const 65536)))
    (if (i32.gt_u (local.get $end) (local.get $size))
      (then
        (if (i32.eq (memory.grow (i32.div_u (i32.add (i32.sub (local.get $end) (local.get $size)) (i32.const 65535)) (i32.const 65536))) (i32.const -1))
          (then (return (i32.const 0))))))
    (global.set $next (local.get $end))
    (local.get $at))
  (func $reply (param $at i32) (param $len i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $at)) (i64.const 32)) (i64.extend_i32_u (local.get $len))))
"#;

/// A module with `imports`, a memory, the allocator, `body` (which defines
/// `call`) and data.
pub fn plugin(imports: &str, body: &str) -> String {
    format!("(module {imports} (memory (export \"memory\") 1) {ALLOC} {body})")
}

pub fn echo() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/plugins/echo/plugin.wat"
    ))
    .unwrap()
}

pub fn json_upper() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/plugins/json-upper/plugin.wat"
    ))
    .unwrap()
}

/// Spins forever.
pub fn infinite_loop() -> String {
    plugin(
        "",
        r#"(func (export "call") (param i32 i32) (result i64) (loop $spin (br $spin)) (i64.const 0))"#,
    )
}

/// Grows its memory a page at a time until growth fails, then replies with
/// the number of pages it got: `{"ok":N}` (N up to 9999).
pub fn memory_bomb() -> String {
    plugin(
        "",
        r#"
  (data (i32.const 100) "{\"ok\":")
  (func (export "call") (param i32 i32) (result i64)
    (local $pages i32) (local $at i32)
    (block $full (loop $grow
      (br_if $full (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
      (br $grow)))
    (local.set $pages (memory.size))
    ;; the digits end at 199, '}' at 200; the prefix goes right before them
    (i32.store8 (i32.const 200) (i32.const 125))
    (local.set $at (i32.const 200))
    (loop $digits
      (local.set $at (i32.sub (local.get $at) (i32.const 1)))
      (i32.store8 (local.get $at) (i32.add (i32.const 48) (i32.rem_u (local.get $pages) (i32.const 10))))
      (local.set $pages (i32.div_u (local.get $pages) (i32.const 10)))
      (br_if $digits (local.get $pages)))
    (local.set $at (i32.sub (local.get $at) (i32.const 6)))
    (memory.copy (local.get $at) (i32.const 100) (i32.const 6))
    (call $reply (local.get $at) (i32.sub (i32.const 201) (local.get $at))))"#,
    )
}

/// Grows until growth fails, then traps as a careless allocator would.
pub fn memory_bomb_trapping() -> String {
    plugin(
        "",
        r#"(func (export "call") (param i32 i32) (result i64)
    (loop $grow (if (i32.eq (memory.grow (i32.const 16)) (i32.const -1)) (then (unreachable))) (br $grow))
    (i64.const 0))"#,
    )
}

/// Traps at once (a panic, in a language that has them).
pub fn trapping() -> String {
    plugin(
        "",
        r#"(func (export "call") (param i32 i32) (result i64) (unreachable))"#,
    )
}

/// Imports `rustchain.read_file` (its manifest must request `readFiles`).
pub fn importing_read_file() -> String {
    plugin(
        r#"(import "rustchain" "read_file" (func $read (param i32 i32) (result i64)))"#,
        r#"(func (export "call") (param i32 i32) (result i64) (i64.const 0))"#,
    )
}

/// Imports WASI, which the host never offers.
pub fn importing_wasi() -> String {
    plugin(
        r#"(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))"#,
        r#"(func (export "call") (param i32 i32) (result i64) (i64.const 0))"#,
    )
}

/// Reads the file its arguments name: `{"path":"P"}` exactly (serialized
/// compactly, with no escapes in P), and replies `{"ok":"CONTENT"}` (the
/// content unescaped) or `{"error":"denied"}` / `{"error":"failed"}`.
pub fn reader() -> String {
    plugin(
        r#"(import "rustchain" "read_file" (func $read (param i32 i32) (result i64)))"#,
        r#"
  (data (i32.const 0) "{\"ok\":\"")
  (data (i32.const 16) "{\"error\":\"denied\"}")
  (data (i32.const 48) "{\"error\":\"failed\"}")
  (func (export "call") (param $ptr i32) (param $len i32) (result i64)
    (local $got i64) (local $at i32) (local $n i32) (local $out i32)
    ;; the path: after {"path":" (9 bytes), before "} (2 bytes)
    (local.set $got (call $read (i32.add (local.get $ptr) (i32.const 9)) (i32.sub (local.get $len) (i32.const 11))))
    (if (i64.eq (local.get $got) (i64.const -1)) (then (return (call $reply (i32.const 16) (i32.const 18)))))
    (if (i64.lt_s (local.get $got) (i64.const 0)) (then (return (call $reply (i32.const 48) (i32.const 18)))))
    (local.set $at (i32.wrap_i64 (i64.shr_u (local.get $got) (i64.const 32))))
    (local.set $n (i32.wrap_i64 (local.get $got)))
    (local.set $out (call $alloc (i32.add (local.get $n) (i32.const 9))))
    (memory.copy (local.get $out) (i32.const 0) (i32.const 7))
    (memory.copy (i32.add (local.get $out) (i32.const 7)) (local.get $at) (local.get $n))
    (i32.store16 (i32.add (local.get $out) (i32.add (local.get $n) (i32.const 7))) (i32.const 0x7d22))
    (call $reply (local.get $out) (i32.add (local.get $n) (i32.const 9))))"#,
    )
}

/// Replies with text that is not JSON.
pub fn malformed() -> String {
    plugin(
        "",
        r#"(data (i32.const 0) "not json at all")
  (func (export "call") (param i32 i32) (result i64) (call $reply (i32.const 0) (i32.const 15)))"#,
    )
}

/// Replies with a range outside its memory.
pub fn out_of_bounds() -> String {
    plugin(
        "",
        r#"(func (export "call") (param i32 i32) (result i64) (call $reply (i32.const 65000) (i32.const 4096)))"#,
    )
}

/// Counts its calls in a global and replies with the count: 1 on every
/// call if each call gets a fresh instance.
pub fn counter() -> String {
    plugin(
        "",
        r#"(global $calls (mut i32) (i32.const 0))
  (data (i32.const 0) "{\"ok\":0}")
  (func (export "call") (param i32 i32) (result i64)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (i32.store8 (i32.const 6) (i32.add (i32.const 48) (global.get $calls)))
    (call $reply (i32.const 0) (i32.const 8)))"#,
    )
}

/// Fetches with its arguments as the request (`{"url": ...}`) and replies
/// `{"ok": RESPONSE}`, or `{"error":"denied"}` / `{"error":"failed"}`.
pub fn fetcher() -> String {
    plugin(
        r#"(import "rustchain" "fetch" (func $fetch (param i32 i32) (result i64)))"#,
        r#"
  (data (i32.const 0) "{\"ok\":")
  (data (i32.const 16) "{\"error\":\"denied\"}")
  (data (i32.const 48) "{\"error\":\"failed\"}")
  (func (export "call") (param $ptr i32) (param $len i32) (result i64)
    (local $got i64) (local $at i32) (local $n i32) (local $out i32)
    (local.set $got (call $fetch (local.get $ptr) (local.get $len)))
    (if (i64.eq (local.get $got) (i64.const -1)) (then (return (call $reply (i32.const 16) (i32.const 18)))))
    (if (i64.lt_s (local.get $got) (i64.const 0)) (then (return (call $reply (i32.const 48) (i32.const 18)))))
    (local.set $at (i32.wrap_i64 (i64.shr_u (local.get $got) (i64.const 32))))
    (local.set $n (i32.wrap_i64 (local.get $got)))
    (local.set $out (call $alloc (i32.add (local.get $n) (i32.const 7))))
    (memory.copy (local.get $out) (i32.const 0) (i32.const 6))
    (memory.copy (i32.add (local.get $out) (i32.const 6)) (local.get $at) (local.get $n))
    (i32.store8 (i32.add (local.get $out) (i32.add (local.get $n) (i32.const 6))) (i32.const 125))
    (call $reply (local.get $out) (i32.add (local.get $n) (i32.const 7))))"#,
    )
}

/// Calls `read_file` 1,000 times with its arguments as the path (each call
/// refused when reading is not granted), then replies `{"ok":0}`.
pub fn refusal_loop() -> String {
    plugin(
        r#"(import "rustchain" "read_file" (func $read (param i32 i32) (result i64)))"#,
        r#"
  (data (i32.const 0) "{\"ok\":0}")
  (func (export "call") (param $ptr i32) (param $len i32) (result i64)
    (local $i i32)
    (loop $again
      (drop (call $read (local.get $ptr) (local.get $len)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 1000))))
    (call $reply (i32.const 0) (i32.const 8)))"#,
    )
}

/// Reads the file its arguments name, with an `alloc` that traps once the
/// input is in: the host's answer cannot be placed.
pub fn reader_with_trapping_alloc() -> String {
    r#"(module
  (import "rustchain" "read_file" (func $read (param i32 i32) (result i64)))
  (memory (export "memory") 1)
  (global $allocated (mut i32) (i32.const 0))
  (func (export "alloc") (param $len i32) (result i32)
    (if (global.get $allocated) (then unreachable))
    (global.set $allocated (i32.const 1))
    (i32.const 1024))
  (func (export "call") (param $ptr i32) (param $len i32) (result i64)
    (call $read (local.get $ptr) (local.get $len))))"#
        .to_owned()
}
