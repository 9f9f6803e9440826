#!/usr/bin/env bash
# A GPU recipe (the generator's or the upscaler's) on a lent H100/H200 (the project's `device`
# tool), as one prepared run. Device time is scarce (15 minutes per loan, machine start and
# transfers included), so everything is sized in advance and the steps run without a human in
# between:
#
#   here:   bash scripts/device/gpu-train.sh generator prepare   # data pack, 64 MiB tree check
#   device: run(command="bash scripts/device/gpu-train.sh generator train", carry=[".devpack"],
#               timeout_s=600)
#   here:   bash scripts/device/gpu-train.sh generator finish /work/.device/<files_at>
#
# (the same with `upscaler`). Then export and evaluate here as for the CPU model
# (docs/training-at-scale.md, "On a lent GPU"). Knobs (environment): CONFIG (recipe),
# ANY_CAT_LIMIT (faces packed, generator), BUDGET_S (seconds of training the step count is sized
# for), CAL_STEPS (steps of the timing run), DEVICE (cuda; cpu for a dry run of the plumbing), PY
# (the Python to use), RUN_DIR (where `finish` puts the checkpoints; default
# <data>/runs/<kind>-gpu).
set -euo pipefail
cd "$(dirname "$0")/../.."

KIND=${1:-}
case "$KIND" in
    generator|upscaler) ;;
    *) echo "usage: $0 generator|upscaler prepare|train|finish <folder>|restore" >&2; exit 2 ;;
esac
CONFIG=${CONFIG:-configs/$KIND-gpu.yaml}
PACK=${PACK:-.devpack}
BUDGET_S=${BUDGET_S:-330}
CAL_STEPS=${CAL_STEPS:-300}
DEVICE=${DEVICE:-cuda}
PY=${PY:-python3}
# The tracked files that need not travel (the shipped ONNX files, the report images): with them
# the working tree is over the tool's 64 MiB. `prepare` untracks them and hides them in
# .git/info/exclude; `finish` (or `restore`) tracks them again. The list is kept inside .git.
UNTRACKED=.git/devpack-untracked

hide_big() {
    git ls-files 'web/public/models/*.onnx' 'reports/*.png' 'reports/*.jpg' > "$UNTRACKED"
    { echo "# devpack begin"; sed 's|^|/|' "$UNTRACKED"; echo "# devpack end"; } \
        >> .git/info/exclude
    xargs -a "$UNTRACKED" git rm -q --cached --
}

restore() {
    [ -f "$UNTRACKED" ] || return 0
    sed -i '/^# devpack begin$/,/^# devpack end$/d' .git/info/exclude
    xargs -a "$UNTRACKED" git add -f --
    rm "$UNTRACKED"
}

prepare() {
    # JPEG q95 (data/jpeg_images.py): ~3x as many images as raw arrays in the same size.
    if [ "$KIND" = generator ]; then
        ${PY} -m tinycats data pack-generator --out "$PACK" --size 64 --config "$CONFIG" \
            --jpeg-quality 95 --any-cat-limit "${ANY_CAT_LIMIT:-9000}" --max-mb 40
    else
        ${PY} -m tinycats data pack-upscaler --out "$PACK" --config "$CONFIG" \
            --jpeg-quality 95 --max-mb 46
    fi
    grep -qx "/$PACK/" .git/info/exclude 2>/dev/null || echo "/$PACK/" >> .git/info/exclude
    [ -f "$UNTRACKED" ] || hide_big
    local bytes
    bytes=$( (git ls-files -z; git ls-files -z --others --exclude-standard) \
             | du -cb --files0-from=- 2>/dev/null | tail -n 1 | cut -f1)
    bytes=$((bytes + $(du -sb "$PACK" | cut -f1)))
    echo "working tree that travels: $((bytes / 1048576)) MiB (limit 64)"
    if [ "$bytes" -gt $((62 * 1048576)) ]; then
        echo "too big for the device tool: pack fewer images" >&2
        exit 1
    fi
}

train() {
    : "${OUT:?OUT must name the folder whose files come back}"
    export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
    local log="$OUT/train.log"  # one log: at most 8 files come back
    if [ "$DEVICE" = cuda ]; then nvidia-smi -L | tee "$log"; fi
    ${PY} -c "import torch; print('torch', torch.__version__)" | tee -a "$log"
    # 1. Timing run of the same recipe: its compiled kernels stay in the inductor cache
    #    for the real run; its median images/s sizes the step count.
    ${PY} -m tinycats train "$KIND" -c "$CONFIG" --data-dir "$PACK" --run-dir /tmp/calib \
        --fresh --steps "$CAL_STEPS" --device "$DEVICE" > /tmp/calibration.log 2>&1 \
        || { tail -n 30 /tmp/calibration.log | tee -a "$log"; exit 1; }
    local steps
    steps=$(${PY} - "$CONFIG" "$BUDGET_S" <<'EOF'
import json, statistics, sys
import yaml
cfg = yaml.safe_load(open(sys.argv[1]))
rows = [json.loads(line) for line in open("/tmp/calib/metrics.jsonl")]
ips = statistics.median(r["img_per_s"] for r in rows[1:] or rows)  # first window compiles
print(max(1, int(float(sys.argv[2]) * ips / cfg["train"]["batch_size"])))
EOF
)
    echo "calibration: $(tail -n 1 /tmp/calib/metrics.jsonl)" | tee -a "$log"
    echo "training ${steps} steps (sized for ${BUDGET_S} s)" | tee -a "$log"
    # 2. The real run, its schedule fitted to the budget. Beside it, a watcher keeps the EMA
    #    weights of the first checkpoint past half the steps (fp16, to fit what comes back): one
    #    run then shows whether the second half helped or only memorised the few training cats.
    ${PY} - "$steps" "$OUT/mid-ema.pt" "$KIND" > /tmp/watcher.log 2>&1 <<'EOF' &
import sys, time
from pathlib import Path
import torch
half, dst, src = int(sys.argv[1]) // 2, Path(sys.argv[2]), Path("/tmp/run/last.pt")
seen = 0.0
while True:
    time.sleep(2)
    if not src.exists() or src.stat().st_mtime == seen:
        continue
    seen = src.stat().st_mtime
    ck = torch.load(src, map_location="cpu", weights_only=False)
    if ck["step"] >= half:
        torch.save({"model": {k: v.half() for k, v in ck["ema"].items()}, "config": ck["config"],
                    "step": ck["step"], "kind": sys.argv[3] + "-ema"}, dst)
        print("mid-run EMA snapshot at step", ck["step"], flush=True)
        break
EOF
    watcher=$!  # global: the EXIT trap reads it after this function returns
    trap 'kill $watcher 2>/dev/null || true' EXIT
    ${PY} -m tinycats train "$KIND" -c "$CONFIG" --data-dir "$PACK" --run-dir /tmp/run \
        --fresh --steps "$steps" --device "$DEVICE" >> "$log" 2>&1 \
        || { tail -n 30 "$log"; exit 1; }
    tail -n 3 "$log"
    for _ in $(seq 60); do kill -0 "$watcher" 2>/dev/null || break; sleep 1; done
    tee -a "$log" < /tmp/watcher.log
    cat /tmp/run/summary.yaml
    # At most 8 files come back, 16 MiB each: the small ones in one tar, the checkpoints in parts.
    tar -cf "$OUT/results.tar" -C /tmp/run metrics.jsonl summary.yaml samples
    split -b 15M -d /tmp/run/ema.pt "$OUT/ema.pt.part"
    if [ -f "$OUT/mid-ema.pt" ]; then
        split -b 15M -d "$OUT/mid-ema.pt" "$OUT/mid-ema.pt.part" && rm "$OUT/mid-ema.pt"
    fi
}

finish() {
    local from=${1:?usage: finish <folder the device files landed in>}
    restore
    mkdir -p "${RUN_DIR:=${TINYCATS_DATA:-$HOME/.cache/tinycats}/runs/$KIND-gpu}"
    cat "$from"/ema.pt.part* > "$RUN_DIR/ema.pt"
    if ls "$from"/mid-ema.pt.part* > /dev/null 2>&1; then
        cat "$from"/mid-ema.pt.part* > "$RUN_DIR/mid-ema.pt"
    fi
    tar -xf "$from/results.tar" -C "$RUN_DIR"
    cp "$from/train.log" "$RUN_DIR/"
    ${PY} -c "import torch, sys; ck = torch.load(sys.argv[1], map_location='cpu', weights_only=False); \
print('ema.pt: step', ck['step'], 'summary', ck['summary'])" "$RUN_DIR/ema.pt"
    echo "next: tinycats export $KIND --checkpoint $RUN_DIR/ema.pt, then tinycats eval $KIND"
}

case "${2:-}" in
    prepare) prepare ;;
    train) train ;;
    finish) finish "${3:-}" ;;
    restore) restore ;;
    *) echo "usage: $0 generator|upscaler prepare|train|finish <folder>|restore" >&2; exit 2 ;;
esac
