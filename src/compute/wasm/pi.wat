(module
  ;; Monte Carlo π kernel: 8 independent xorshift32 streams as two i32x4 vectors (see src/compute/pi.ts).
  ;; Build: `bun run build:wasm` writes src/compute/wasm/pi.wasm.ts; a test checks it matches this file.
  (memory (export "memory") 1)
  ;; state: 8 lanes of xorshift32 at offset 0 (two i32x4 vectors)
  ;; count(groups) advances the 8 streams `groups` times and returns how many of the 8*groups points fell inside.
  (func (export "count") (param $groups i32) (result i32)
    (local $a v128) (local $b v128) (local $acca v128) (local $accb v128)
    (local $xa v128) (local $ya v128) (local $xb v128) (local $yb v128)
    (local $mask v128) (local $limit v128) (local $one v128)
    (local.set $a (v128.load (i32.const 0)))
    (local.set $b (v128.load (i32.const 16)))
    (local.set $mask (i32x4.splat (i32.const 0x7fff)))
    (local.set $limit (i32x4.splat (i32.const 0x40000000)))
    (local.set $one (i32x4.splat (i32.const 1)))
    (block $done
      (br_if $done (i32.eqz (local.get $groups)))
      (loop $next
        (local.set $a (v128.xor (local.get $a) (i32x4.shl (local.get $a) (i32.const 13))))
        (local.set $b (v128.xor (local.get $b) (i32x4.shl (local.get $b) (i32.const 13))))
        (local.set $a (v128.xor (local.get $a) (i32x4.shr_u (local.get $a) (i32.const 17))))
        (local.set $b (v128.xor (local.get $b) (i32x4.shr_u (local.get $b) (i32.const 17))))
        (local.set $a (v128.xor (local.get $a) (i32x4.shl (local.get $a) (i32.const 5))))
        (local.set $b (v128.xor (local.get $b) (i32x4.shl (local.get $b) (i32.const 5))))
        (local.set $xa (v128.and (local.get $a) (local.get $mask)))
        (local.set $ya (i32x4.shr_u (local.get $a) (i32.const 17)))
        (local.set $xb (v128.and (local.get $b) (local.get $mask)))
        (local.set $yb (i32x4.shr_u (local.get $b) (i32.const 17)))
        ;; inside when x(x+1) + y(y+1) < 2^30; the comparison mask is -1 per lane, so subtracting counts it
        (local.set $acca (i32x4.sub (local.get $acca)
          (i32x4.lt_s
            (i32x4.add (i32x4.mul (local.get $xa) (i32x4.add (local.get $xa) (local.get $one)))
                       (i32x4.mul (local.get $ya) (i32x4.add (local.get $ya) (local.get $one))))
            (local.get $limit))))
        (local.set $accb (i32x4.sub (local.get $accb)
          (i32x4.lt_s
            (i32x4.add (i32x4.mul (local.get $xb) (i32x4.add (local.get $xb) (local.get $one)))
                       (i32x4.mul (local.get $yb) (i32x4.add (local.get $yb) (local.get $one))))
            (local.get $limit))))
        (br_if $next (local.tee $groups (i32.sub (local.get $groups) (i32.const 1))))))
    (v128.store (i32.const 0) (local.get $a))
    (v128.store (i32.const 16) (local.get $b))
    (local.set $acca (i32x4.add (local.get $acca) (local.get $accb)))
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $acca)) (i32x4.extract_lane 1 (local.get $acca)))
      (i32.add (i32x4.extract_lane 2 (local.get $acca)) (i32x4.extract_lane 3 (local.get $acca))))))
