;; json-upper: upper-cases the ASCII letters of every string value in a
;; JSON document, leaving keys, escapes and everything else as they are.
;; It works on the JSON text byte by byte, with a stack of the open
;; containers to tell keys from values.
(module
  (import "rustchain" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 1)

  (data (i32.const 0) "{\"ok\":")
  (data (i32.const 16) "{\"error\":\"nested deeper than 256 levels\"}")
  (data (i32.const 64) "transforming")

  ;; The open containers ('{' or '['), one byte each, at 256..512.
  (global $stack i32 (i32.const 256))
  (global $max_depth i32 (i32.const 256))

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

  (func $reply (param $at i32) (param $len i32) (result i64)
    (i64.or
      (i64.shl (i64.extend_i32_u (local.get $at)) (i64.const 32))
      (i64.extend_i32_u (local.get $len))))

  (func (export "call") (param $ptr i32) (param $len i32) (result i64)
    (local $out i32)
    (local $i i32)
    (local $c i32)
    (local $in_string i32)
    (local $escaped i32)
    (local $is_key i32)
    (local $prev i32)
    (local $depth i32)
    ;; level 3 = debug
    (call $log (i32.const 3) (i32.const 64) (i32.const 12))
    (local.set $out (call $alloc (i32.add (local.get $len) (i32.const 7))))
    (if (i32.eqz (local.get $out)) (then (unreachable)))
    (memory.copy (local.get $out) (i32.const 0) (i32.const 6))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $c (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
        (block $next
          (if (local.get $in_string)
            (then
              (if (local.get $escaped)
                (then (local.set $escaped (i32.const 0)) (br $next)))
              (if (i32.eq (local.get $c) (i32.const 92))           ;; a backslash
                (then (local.set $escaped (i32.const 1)) (br $next)))
              (if (i32.eq (local.get $c) (i32.const 34))           ;; the closing quote
                (then (local.set $in_string (i32.const 0)) (br $next)))
              ;; a..z in a value: to A..Z
              (if (i32.and
                    (i32.eqz (local.get $is_key))
                    (i32.le_u (i32.sub (local.get $c) (i32.const 97)) (i32.const 25)))
                (then (local.set $c (i32.sub (local.get $c) (i32.const 32)))))
              (br $next)))
          ;; Outside strings.
          (if (i32.eq (local.get $c) (i32.const 34))               ;; an opening quote
            (then
              (local.set $in_string (i32.const 1))
              ;; A key: inside an object, right after '{' or ','.
              (local.set $is_key
                (i32.and
                  (i32.and
                    (i32.gt_u (local.get $depth) (i32.const 0))
                    (i32.eq
                      (i32.load8_u (i32.add (global.get $stack) (i32.sub (local.get $depth) (i32.const 1))))
                      (i32.const 123)))
                  (i32.or
                    (i32.eq (local.get $prev) (i32.const 123))
                    (i32.eq (local.get $prev) (i32.const 44)))))))
          (if (i32.or (i32.eq (local.get $c) (i32.const 123)) (i32.eq (local.get $c) (i32.const 91)))
            (then
              (if (i32.ge_u (local.get $depth) (global.get $max_depth))
                (then (return (call $reply (i32.const 16) (i32.const 41)))))
              (i32.store8 (i32.add (global.get $stack) (local.get $depth)) (local.get $c))
              (local.set $depth (i32.add (local.get $depth) (i32.const 1)))))
          (if (i32.and
                (i32.gt_u (local.get $depth) (i32.const 0))
                (i32.or (i32.eq (local.get $c) (i32.const 125)) (i32.eq (local.get $c) (i32.const 93))))
            (then (local.set $depth (i32.sub (local.get $depth) (i32.const 1)))))
          ;; Remember the last character outside strings, whitespace aside.
          (if (i32.gt_u (local.get $c) (i32.const 32))
            (then (local.set $prev (local.get $c)))))
        (i32.store8 (i32.add (local.get $out) (i32.add (local.get $i) (i32.const 6))) (local.get $c))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each)))
    (i32.store8 (i32.add (local.get $out) (i32.add (local.get $len) (i32.const 6))) (i32.const 125))
    (call $reply (local.get $out) (i32.add (local.get $len) (i32.const 7)))))
