#!/usr/bin/env bash
# Every number of the README's "Results on ShapeWorld" section, in order (about 40 minutes on 2 cores, plus the
# study across worlds: about 2 hours of steps and 5-6 minutes of `prepare` per world; it resumes).
# Run from the repository root in the venv of the README's quick start: `bash benchmarks/readme_numbers.sh`.
# Outputs land under data/shapeworld and runs/; each step prints what the README quotes.
set -euo pipefail
L=.venv/bin/lightning-csr
P=.venv/bin/python
step() { echo "=== $(date +%T) $*"; }

step "base models (card.md)"; $L shapeworld prepare --out data/shapeworld
step "prior counts"; $P benchmarks/shapeworld_prior_counts.py --data data/shapeworld
step "CSR, lambda 0.9"; $L fit --config configs/csr/shapeworld.yaml
step "CSR, lambda 0"; $L fit --config configs/csr/shapeworld.yaml --config configs/csr/lam0.yaml
step "CSR, released-code scoring"; $L fit --config configs/csr/shapeworld.yaml --config configs/csr/code.yaml
step "CSR again with ATen and oneDNN on AVX2 (how fit moves with the kernels)"
ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 $L fit --config configs/csr/shapeworld.yaml \
  --trainer.default_root_dir runs/csr_shapeworld_avx2
step "the study across worlds (resumes; reuses finished steps)"; $L shapeworld study --config configs/study/shapeworld.yaml
step "Fact-RLHF pairs"; $L shapeworld rm-pairs --data data/shapeworld --model data/shapeworld/base_model
step "reward model, facts before the question"; $L fit --config configs/rlhf/shapeworld_rm.yaml
step "reward model, plain"; $L fit --config configs/rlhf/shapeworld_rm.yaml --data.init_args.reward_prompt.use_facts=false \
  --trainer.default_root_dir runs/rlhf_shapeworld_rm_plain
step "reward model, facts in the judging turn"; $L fit --config configs/rlhf/shapeworld_rm.yaml \
  --data.init_args.reward_prompt.facts_position=judge --trainer.default_root_dir runs/rlhf_shapeworld_rm_judge
for run in rlhf_shapeworld_rm rlhf_shapeworld_rm_plain rlhf_shapeworld_rm_judge; do
  step "pair accuracy by kind: $run"; $L shapeworld rm-accuracy --reward-model runs/$run/reward_model
done
step "PPO, facts reward model"; $L fit --config configs/rlhf/shapeworld_ppo.yaml
step "PPO, plain reward model"; $L fit --config configs/rlhf/shapeworld_ppo.yaml \
  --model.init_args.reward_model runs/rlhf_shapeworld_rm_plain/reward_model \
  --trainer.default_root_dir runs/rlhf_shapeworld_ppo_plain
step "MMHal stand-in"; $L evaluate --model runs/rlhf_shapeworld_ppo --benchmark shapeworld --out runs/eval_ppo
$L evaluate --model data/shapeworld/base_model --benchmark shapeworld --out runs/eval_base
step "speed"; $P benchmarks/search_throughput.py --model-dir data/shapeworld/base_model --threads 1 --prompts 32
$P benchmarks/search_throughput.py --tiny-random --threads 1 --prompts 8
if $P -c "import trl" 2>/dev/null; then $P benchmarks/dpo_vs_trl.py --steps 30 --rounds 5; fi
step done
