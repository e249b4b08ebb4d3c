#!/usr/bin/env bash
# GPU check: on a machine with a CUDA GPU and the project installed (nothing is downloaded), run the gpu-marked
# tests and the performance benchmarks, and print their tables. Usage: bash scripts/gpu_check.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-${OUT:-gpu_check_out}}"
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 WANDB_MODE=offline PIP_NO_INDEX=1

python - <<'PY'
import torch
assert torch.cuda.is_available(), "no CUDA device visible"
print("device:", torch.cuda.get_device_name(), "| torch", torch.__version__, "| CUDA", torch.version.cuda)
PY
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

echo "== gpu tests"
python -m pytest tests/perf -m gpu -q -p no:cacheprovider 2>&1 | tee "$OUT/gpu_tests.txt"

echo "== framework vs hand-written loop (CUDA, bf16 autocast, pinned memory, 4 workers)"
python scripts/bench_train.py --device cuda --n 2000 --batch-size 64 --image-size 64 --steps 60 --repeats 3 \
  --workers 4 --loader-workers 0 4 8 2>/dev/null | tee "$OUT/bench_train_cuda.txt" | tail -8

echo "== same with channels-last + torch.compile"
python scripts/bench_train.py --device cuda --n 2000 --batch-size 64 --image-size 64 --steps 60 --repeats 3 \
  --workers 4 --loader-workers 4 --channels-last --compile 2>/dev/null | tee "$OUT/bench_train_cuda_compile.txt" \
  | tail -8

echo "== peak RSS vs cohort size (CUDA training)"
python scripts/bench_memory.py --sizes 2000 8000 40000 --steps 30 --extra trainer=gpu data.num_workers=4 \
  data.pin_memory=true | tee "$OUT/bench_memory_cuda.txt" | tail -6
