;; echo: replies with its arguments, unchanged.
(module
  (memory (export "memory") 1)

  ;; The reply's prefix, at address 0.
  (data (i32.const 0) "{\"ok\":")

  ;; A bump allocator above 1024: a fresh instance serves each call, so
  ;; nothing is ever freed. Grows the memory when a buffer passes its end;
  ;; 0 when it cannot.
  (global $next (mut i32) (i32.const 1024))
  (func $alloc (export "alloc") (param $len i32) (result i32)
    (local $at i32)
    (local $end i32)
    (local $size i32)
    (local.set $at (global.get $next))
    (local.set $end (i32.add (local.get $at) (local.get $len)))
    (local.set $size (i32.mul (memory.size) (i32.const 65536)))
    (if (i32.gt_u (local.get $end) (local.get $size))
      (then
        (if (i32.eq
              (memory.grow
                (i32.div_u
                  (i32.add (i32.sub (local.get $end) (local.get $size)) (i32.const 65535))
                  (i32.const 65536)))
              (i32.const -1))
          (then (return (i32.const 0))))))
    (global.set $next (local.get $end))
    (local.get $at))

  ;; {"ok": ARGUMENTS}
  (func (export "call") (param $ptr i32) (param $len i32) (result i64)
    (local $out i32)
    (local $out_len i32)
    (local.set $out_len (i32.add (local.get $len) (i32.const 7)))
    (local.set $out (call $alloc (local.get $out_len)))
    (if (i32.eqz (local.get $out)) (then (unreachable)))
    (memory.copy (local.get $out) (i32.const 0) (i32.const 6))
    (memory.copy (i32.add (local.get $out) (i32.const 6)) (local.get $ptr) (local.get $len))
    (i32.store8 (i32.add (local.get $out) (i32.add (local.get $len) (i32.const 6))) (i32.const 125))
    ;; The reply's address in the high 32 bits, its length in the low 32.
    (i64.or
      (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32))
      (i64.extend_i32_u (local.get $out_len)))))
