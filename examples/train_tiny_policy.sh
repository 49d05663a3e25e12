#!/usr/bin/env bash
# The whole learning loop on one 2-core machine: expert demonstrations -> InternVL SFT data -> SFT of the
# tiny preset -> evaluation on held-out seeds. Training seeds start at 100000, evaluation seeds at 0.
#   bash examples/train_tiny_policy.sh [WORK_DIR] [STEPS]
set -euo pipefail
WORK=${1:-runs/tiny-policy}
STEPS=${2:-3000}
V=${VIRAGENT:-.venv/bin/viragent}
mkdir -p "$WORK"
[ -d "$WORK/demos-miniwob" ] || $V collect --suite miniwob --episodes 40 --out "$WORK/demos-miniwob"
[ -d "$WORK/demos-babyai" ] || $V collect --suite babyai --episodes 40 --max-steps 64 --out "$WORK/demos-babyai"
$V export "$WORK/demos-miniwob" "$WORK/demos-babyai" --out "$WORK/data"
$V train sft --data "$WORK/data/viragent_sft_meta.json" --init tiny --steps "$STEPS" --batch-size 16 \
  --lr 1e-3 --warmup 100 --out "$WORK/sft"
$V eval --policy "internvl:$WORK/sft/final" --suite miniwob --episodes 20 --out "$WORK/eval-miniwob"
$V eval --policy "internvl:$WORK/sft/final" --suite babyai --episodes 20 --max-steps 64 --out "$WORK/eval-babyai"
