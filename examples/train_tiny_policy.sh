#!/usr/bin/env bash
# The shipped tiny policy, end to end on one 2-core machine: expert demonstrations of all three env
# families -> InternVL SFT data -> stage `pretrained` (generated grounding/reading screens) -> stage
# `instruct` (the demonstrations, with some screens mixed in) -> evaluation on held-out seeds.
# Training seeds start at 100000, evaluation seeds at 0.
#   bash examples/train_tiny_policy.sh [WORK_DIR]        (PRE_STEPS, INS_STEPS override the schedule; RETYPE;
#                                                          REGION_LOSS=1.0 adds the region-token loss (viragent-tiny-region);
#                                                          DEMO_REGIONS=1 also labels the MiniWoB demos' words;
#                                                          CPU_BF16=1 trains with bf16 autocast on the CPU)
set -euo pipefail
WORK=${1:-runs/tiny-policy}
PRE_STEPS=${PRE_STEPS:-1500}
INS_STEPS=${INS_STEPS:-4500}
# The region-token loss: on the generated screens every visual token must also name the text drawn under it, so
# the image path gets a dense signal of its own instead of being washed out (model/train/region_tokens.py).
# viragent-tiny was trained without it (the default, 0); viragent-tiny-region with REGION_LOSS=1.0.
REGION_LOSS=${REGION_LOSS:-0}
# MiniWoB demos without word boxes by default (as for the shipped checkpoint): with REGION_LOSS the loss then sees
# only the generated screens. DEMO_REGIONS=1 records the demos' words too: not yet measured.
DEMO_REGIONS=${DEMO_REGIONS:-0}
[ "$DEMO_REGIONS" = 1 ] && REGIONS_FLAG=--regions || REGIONS_FLAG=--no-regions
[ "${CPU_BF16:-0}" = 1 ] && BF16_FLAG=--cpu-bf16 || BF16_FLAG=
BINS=32  # click coordinates snapped to 32 cells per axis: 32 number tokens per axis to learn, not 1001
V=${VIRAGENT:-.venv/bin/viragent}
mkdir -p "$WORK"
[ -d "$WORK/demos-miniwob" ] || $V collect --suite miniwob --episodes 150 $REGIONS_FLAG --out "$WORK/demos-miniwob"
[ -d "$WORK/demos-babyai" ] || $V collect --suite babyai --episodes 150 --max-steps 64 --out "$WORK/demos-babyai"
[ -d "$WORK/demos-desktop" ] || $V collect --suite desktop --episodes 40 --out "$WORK/demos-desktop"
for suite in miniwob babyai desktop; do
  # RETYPE=N adds each typing step N more times with fresh strings (copying practice); viragent-tiny and
  # viragent-tiny-region were trained without it (0).
  $V export "$WORK/demos-$suite" --bins $BINS --retype "${RETYPE:-0}" --out "$WORK/data" --name "$suite"
done
[ -f "$WORK/screens/viragent_screens_meta.json" ] || $V screens --samples 30000 --bins $BINS --out "$WORK/screens"
$V train sft --init tiny --data "$WORK/screens/viragent_screens_meta.json" \
  --steps "$PRE_STEPS" --batch-size 16 --lr 1e-3 --warmup 100 --region-loss "$REGION_LOSS" $BF16_FLAG --out "$WORK/pretrained"
$V train sft --init "$WORK/pretrained/final" \
  --data "$WORK/data/miniwob_meta.json:2" --data "$WORK/data/babyai_meta.json" --data "$WORK/data/desktop_meta.json:2" \
  --data "$WORK/screens/viragent_screens_meta.json:0.15" \
  --steps "$INS_STEPS" --batch-size 16 --lr 1e-3 --warmup 100 --region-loss "$REGION_LOSS" $BF16_FLAG --out "$WORK/instruct"
echo "checkpoint: $WORK/instruct/final  (evaluate: $V eval --policy internvl:$WORK/instruct/final --suite miniwob,babyai,desktop --episodes 50 --out $WORK/eval)"
