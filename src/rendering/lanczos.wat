;; Lanczos-3 reduction of one grey channel by a whole factor, in WebAssembly SIMD, with
;; libvips' integer arithmetic (lanczos.ts explains it and lays out the memory). Assembled by
;; scripts/build-wasm.js into lanczos-wasm.ts; test/unit/rendering-lanczos.test.ts checks the
;; two agree and compares the result with sharp's bytes.
(module
  (memory (export "memory") 1)

  ;; The vertical pass: row y of `mid` (its pixels from mid + y*midStride + pad) is the sum of
  ;; the window's rows clamp(factor*y + first + taps[t].offset, 0, height - 1) times
  ;; taps[t].weight, +2048 >> 12, clamped to 0-255; then `pad` bytes each side repeat its edge
  ;; pixels. The window's rows from..to-1 are at src + (row - from)*stride + left, the others
  ;; are zero (the row at zeroRow). 16 columns at a time: reading and writing up to 15 bytes
  ;; past a row is allowed (lanczos.ts leaves room), those columns are never used.
  (func $vertical
    (param $src i32) (param $stride i32) (param $left i32) (param $from i32) (param $to i32) (param $zeroRow i32)
    (param $width i32) (param $height i32)
    (param $factor i32) (param $first i32) (param $taps i32) (param $tapCount i32)
    (param $rows i32) (param $mid i32) (param $midStride i32) (param $pad i32) (param $outHeight i32)
    (local $y i32) (local $x i32) (local $t i32) (local $row i32) (local $entry i32) (local $dst i32)
    (local $pixels v128) (local $low v128) (local $high v128) (local $weight v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $round v128)
    (local.set $round (i32x4.splat (i32.const 2048)))
    (block $rowsDone
      (loop $eachRow
        (br_if $rowsDone (i32.ge_u (local.get $y) (local.get $outHeight)))
        ;; This output row's source rows and weights, as (address, weight) pairs at $rows.
        (local.set $t (i32.const 0))
        (block $tapsDone
          (loop $eachTap
            (br_if $tapsDone (i32.ge_u (local.get $t) (local.get $tapCount)))
            (local.set $entry (i32.add (local.get $taps) (i32.shl (local.get $t) (i32.const 3))))
            (local.set $row
              (i32.add
                (i32.add (i32.mul (local.get $factor) (local.get $y)) (local.get $first))
                (i32.load (local.get $entry))))
            (if (i32.lt_s (local.get $row) (i32.const 0)) (then (local.set $row (i32.const 0))))
            (if (i32.ge_s (local.get $row) (local.get $height))
              (then (local.set $row (i32.sub (local.get $height) (i32.const 1)))))
            (i32.store
              (i32.add (local.get $rows) (i32.shl (local.get $t) (i32.const 3)))
              (if (result i32)
                (i32.and (i32.ge_s (local.get $row) (local.get $from)) (i32.lt_s (local.get $row) (local.get $to)))
                (then
                  (i32.add
                    (i32.add (local.get $src) (i32.mul (i32.sub (local.get $row) (local.get $from)) (local.get $stride)))
                    (local.get $left)))
                (else (local.get $zeroRow))))
            (i32.store offset=4
              (i32.add (local.get $rows) (i32.shl (local.get $t) (i32.const 3)))
              (i32.load offset=4 (local.get $entry)))
            (local.set $t (i32.add (local.get $t) (i32.const 1)))
            (br $eachTap)))
        (local.set $dst
          (i32.add (i32.add (local.get $mid) (i32.mul (local.get $y) (local.get $midStride))) (local.get $pad)))
        (local.set $x (i32.const 0))
        (block $columnsDone
          (loop $eachColumns
            (br_if $columnsDone (i32.ge_u (local.get $x) (local.get $width)))
            (local.set $a0 (v128.const i32x4 0 0 0 0))
            (local.set $a1 (v128.const i32x4 0 0 0 0))
            (local.set $a2 (v128.const i32x4 0 0 0 0))
            (local.set $a3 (v128.const i32x4 0 0 0 0))
            (local.set $t (i32.const 0))
            (block $sumDone
              (loop $sum
                (br_if $sumDone (i32.ge_u (local.get $t) (local.get $tapCount)))
                (local.set $entry (i32.add (local.get $rows) (i32.shl (local.get $t) (i32.const 3))))
                (local.set $pixels (v128.load (i32.add (i32.load (local.get $entry)) (local.get $x))))
                (local.set $weight (i16x8.splat (i32.load offset=4 (local.get $entry))))
                (local.set $low (i16x8.extend_low_i8x16_u (local.get $pixels)))
                (local.set $high (i16x8.extend_high_i8x16_u (local.get $pixels)))
                (local.set $a0 (i32x4.add (local.get $a0) (i32x4.extmul_low_i16x8_s (local.get $low) (local.get $weight))))
                (local.set $a1 (i32x4.add (local.get $a1) (i32x4.extmul_high_i16x8_s (local.get $low) (local.get $weight))))
                (local.set $a2 (i32x4.add (local.get $a2) (i32x4.extmul_low_i16x8_s (local.get $high) (local.get $weight))))
                (local.set $a3 (i32x4.add (local.get $a3) (i32x4.extmul_high_i16x8_s (local.get $high) (local.get $weight))))
                (local.set $t (i32.add (local.get $t) (i32.const 1)))
                (br $sum)))
            ;; +2048 >> 12, then the saturating narrows clamp to 0-255.
            (v128.store
              (i32.add (local.get $dst) (local.get $x))
              (i8x16.narrow_i16x8_u
                (i16x8.narrow_i32x4_s
                  (i32x4.shr_s (i32x4.add (local.get $a0) (local.get $round)) (i32.const 12))
                  (i32x4.shr_s (i32x4.add (local.get $a1) (local.get $round)) (i32.const 12)))
                (i16x8.narrow_i32x4_s
                  (i32x4.shr_s (i32x4.add (local.get $a2) (local.get $round)) (i32.const 12))
                  (i32x4.shr_s (i32x4.add (local.get $a3) (local.get $round)) (i32.const 12)))))
            (local.set $x (i32.add (local.get $x) (i32.const 16)))
            (br $eachColumns)))
        ;; Past the edges, the edge pixel again (libvips repeats edges).
        (memory.fill (i32.sub (local.get $dst) (local.get $pad)) (i32.load8_u (local.get $dst)) (local.get $pad))
        (memory.fill
          (i32.add (local.get $dst) (local.get $width))
          (i32.load8_u (i32.sub (i32.add (local.get $dst) (local.get $width)) (i32.const 1)))
          (local.get $pad))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $eachRow))))

  ;; The horizontal pass: out[y*outWidth + x] is the sum over 24 bytes of mid's row y from
  ;; column factor*x + start (start: the centre's offset plus the kernel's first tap; the pad
  ;; makes every such column readable) times the 24 weights at $weights (i16, zero past the kernel), +2048 >> 12, clamped to 0-255.
  (func $horizontal
    (param $mid i32) (param $midStride i32) (param $pad i32) (param $outWidth i32) (param $outHeight i32)
    (param $factor i32) (param $start i32) (param $weights i32) (param $out i32)
    (local $y i32) (local $x i32) (local $at i32) (local $sum v128) (local $value i32)
    (local $w0 v128) (local $w1 v128) (local $w2 v128)
    (local.set $w0 (v128.load (local.get $weights)))
    (local.set $w1 (v128.load offset=16 (local.get $weights)))
    (local.set $w2 (v128.load offset=32 (local.get $weights)))
    (block $rowsDone
      (loop $eachRow
        (br_if $rowsDone (i32.ge_u (local.get $y) (local.get $outHeight)))
        (local.set $x (i32.const 0))
        (block $pixelsDone
          (loop $eachPixel
            (br_if $pixelsDone (i32.ge_u (local.get $x) (local.get $outWidth)))
            (local.set $at
              (i32.add
                (i32.add (i32.add (local.get $mid) (i32.mul (local.get $y) (local.get $midStride))) (local.get $pad))
                (i32.add (i32.mul (local.get $factor) (local.get $x)) (local.get $start))))
            (local.set $sum
              (i32x4.add
                (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (v128.load64_zero (local.get $at))) (local.get $w0))
                (i32x4.add
                  (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (v128.load64_zero offset=8 (local.get $at))) (local.get $w1))
                  (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (v128.load64_zero offset=16 (local.get $at))) (local.get $w2)))))
            (local.set $value
              (i32.shr_s
                (i32.add
                  (i32.add
                    (i32.add (i32x4.extract_lane 0 (local.get $sum)) (i32x4.extract_lane 1 (local.get $sum)))
                    (i32.add (i32x4.extract_lane 2 (local.get $sum)) (i32x4.extract_lane 3 (local.get $sum))))
                  (i32.const 2048))
                (i32.const 12)))
            (if (i32.lt_s (local.get $value) (i32.const 0)) (then (local.set $value (i32.const 0))))
            (if (i32.gt_s (local.get $value) (i32.const 255)) (then (local.set $value (i32.const 255))))
            (i32.store8
              (i32.add (local.get $out) (i32.add (i32.mul (local.get $y) (local.get $outWidth)) (local.get $x)))
              (local.get $value))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))
            (br $eachPixel)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $eachRow))))

  (export "vertical" (func $vertical))
  (export "horizontal" (func $horizontal)))
