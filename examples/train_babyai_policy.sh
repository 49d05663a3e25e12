#!/usr/bin/env bash
# viragent-tiny-babyai, the BabyAI policy, end to end on one 2-core machine: stage `pretrained` exactly as in
# train_tiny_policy.sh (generated grounding/reading screens), then BabyAI demonstrations only, seen the way this
# policy is served:
#  - the egocentric view (--env-option view=agent): the 7x7 cells in front of the agent, so "the cell in front
#    of me" is always the same place in the picture;
#  - the image last in the prompt (--image last): each visual token the same distance from the answer, whatever
#    the length of the mission and the history (agent/prompts.py).
# The checkpoint records both (viragent.json), so `viragent run/eval` serve it that way without options.
# Training seeds start at 100000, evaluation seeds at 0.
#   bash examples/train_babyai_policy.sh [WORK_DIR]
#   PRE_STEPS, STEPS, EPISODES override the schedule and the number of demonstrations per family.
set -euo pipefail
WORK=${1:-runs/tiny-babyai}
PRE_STEPS=${PRE_STEPS:-1500}
STEPS=${STEPS:-3000}
EPISODES=${EPISODES:-400}
BINS=32  # as train_tiny_policy.sh: the pretrained stage's click answers on 32 cells per axis
V=${VIRAGENT:-.venv/bin/viragent}
# bf16 autocast only on a CPU with bf16 instructions; elsewhere it is emulated and slower (train_tiny_policy.sh).
CPU_BF16=${CPU_BF16:-auto}
if [ "$CPU_BF16" = auto ]; then
  grep -qwE "avx512_bf16|amx_bf16" /proc/cpuinfo 2>/dev/null && CPU_BF16=1 || CPU_BF16=0
fi
[ "$CPU_BF16" = 1 ] && BF16_FLAG=--cpu-bf16 || BF16_FLAG=
mkdir -p "$WORK"
[ -f "$WORK/screens/viragent_screens_meta.json" ] || $V screens --samples 30000 --bins $BINS --out "$WORK/screens"
[ -d "$WORK/pretrained/final" ] || $V train sft --init tiny --data "$WORK/screens/viragent_screens_meta.json" \
  --steps "$PRE_STEPS" --batch-size 16 --lr 1e-3 --warmup 100 --region-loss 1.0 $BF16_FLAG --out "$WORK/pretrained"
[ -d "$WORK/demos-babyai" ] || $V collect --suite babyai --episodes "$EPISODES" --max-steps 64 --no-regions \
  --env-option view=agent --out "$WORK/demos-babyai"
$V export "$WORK/demos-babyai" --image last --out "$WORK/data" --name babyai
$V train sft --init "$WORK/pretrained/final" --data "$WORK/data/babyai_meta.json" \
  --steps "$STEPS" --batch-size 16 --lr 1e-3 --warmup 100 $BF16_FLAG --out "$WORK/babyai"
echo "recipe time: $((SECONDS / 60)) min $((SECONDS % 60)) s"
echo "checkpoint: $WORK/babyai/final  (evaluate: $V eval --policy internvl:$WORK/babyai/final --suite babyai --episodes 50 --out $WORK/eval)"
