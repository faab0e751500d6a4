#!/usr/bin/env bash
# GPU checks in one short script: training on CUDA through the CLI (one GPU per job via
# the lock), batched seeds on the GPU, VGG16 fc7 throughput end to end vs forward alone.
# Needs data/raw/digits (the download stage's output) and, for throughput, a tar of
# Office-Caltech10 JPEGs (TAR=...).  Writes JSON and logs to $OUT (default /tmp/gpu-check).
set -u
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu-check}
TAR=${TAR:-../shared/data/office_caltech10_images.tar}
W=$(mktemp -d)
mkdir -p "$OUT"
py() { python3 -m mtlbench "$@"; }
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"

py features --raw data/raw/digits --backbone pixels --out "$W/f.parquet" --quiet
for s in 0 1 2; do py splits --features "$W/f.parquet" --ratio 0.05 --seed $s --out "$W/s$s.parquet"; done
HP=$(py check params.yaml)
hp() { python3 -c "import json,sys; print(json.dumps(json.loads(sys.argv[1])['methods']['$1']['hparams']))" "$HP"; }
for m in stl bmtl mrn amtnn_w; do
  /usr/bin/time -f "$m wall %e s" python3 -m mtlbench train --features "$W/f.parquet" --split "$W/s0.parquet" \
    --out "$OUT/run_$m.json" --dataset digits --tasks mnist,mnist_m,uci_digits --method $m \
    --hparams "$(hp $m)" --ratio 0.05 --seed 0 --device auto --gpu-lock-dir "$W/locks" --quiet
done
/usr/bin/time -f "vmtl 3 seeds wall %e s" python3 -m mtlbench train-seeds --features "$W/f.parquet" \
  --splits "$W/s0.parquet" "$W/s1.parquet" "$W/s2.parquet" --seeds 0,1,2 \
  --out "$OUT/run_vmtl_s0.json" "$W/v1.json" "$W/v2.json" --dataset digits --tasks mnist,mnist_m,uci_digits \
  --method vmtl --hparams "$(hp vmtl)" --ratio 0.05 --device auto --gpu-lock-dir "$W/locks" --quiet
python3 - "$OUT" <<'PY'
import json, sys, glob
for p in sorted(glob.glob(sys.argv[1] + "/run_*.json")):
    r = json.load(open(p))
    scope = " (all seeds)" if r.get("wall_time_scope") == "batched_seeds" else ""
    print(f"{r['method']:8s} avg acc {r['metrics']['average']['accuracy']:.4f}  {r['wall_time_s']:6.1f} s{scope}  "
          f"{r['device']['device']} {r['device'].get('gpu', '')}")
PY
# one GPU, two jobs at once: the second waits for the first's lock
python3 - "$W" <<'PY'
import subprocess, sys, time
w = sys.argv[1]
code = ("import sys, time; from mtlbench.gpu import claim_gpu\n"
        "with claim_gpu(sys.argv[1], poll_s=0.1) as g:\n"
        "    t = time.time(); print('got GPU', g, flush=True); time.sleep(3)\n")
t0 = time.time()
ps = [subprocess.Popen([sys.executable, "-c", code, w + "/locks2"], stdout=subprocess.PIPE, text=True) for _ in range(2)]
outs = [p.communicate()[0].strip() for p in ps]
print("two jobs, one GPU:", outs, f"total {time.time() - t0:.1f} s (>= 6 s: serialised)")
PY
python3 benchmarks/bench_batched_seeds.py --features "$W/f.parquet" --device cuda --out "$OUT/batched_seeds_cuda.json"
python3 benchmarks/bench_batched_seeds.py --features "$W/f.parquet" --device cpu --threads 16 --out "$OUT/batched_seeds_cpu16.json"
# VGG16 fc7 throughput: decode-only img/s per worker for every decode option (pil-float =
# the old workers, cpu, draft, cuda, cuda-each), then end to end vs forward alone for the
# decode options cpu, draft and cuda; the 2,533 JPEGs repeated 4x so that worker start-up
# does not dominate; fp32 also measures draft's pixel/fc7 differences on all 330 images it changes
python3 benchmarks/bench_feature_throughput.py --tar "$TAR" --device cuda --images 10132 --decode-images 1024 \
  --repeats 2 --batch-size 128 --workers 14 --prefetch 8 --precision fp32 --decode cpu,draft,cuda \
  --draft-diff 330 --out "$OUT/feature_throughput_cuda_fp32.json"
python3 benchmarks/bench_feature_throughput.py --tar "$TAR" --device cuda --images 10132 --decode-images 0 \
  --batch-size 128 --workers 14 --prefetch 8 --precision bf16 --decode cpu,cuda \
  --out "$OUT/feature_throughput_cuda_bf16.json"
