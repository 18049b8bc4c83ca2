#!/usr/bin/env bash
# Produce the stored runs in assets/runs/ and the offline checkpoints in assets/checkpoints/.
#
#   DATASET=../shared/data/cifar10-jpeg bash scripts/stored_runs.sh
#
# The defaults make the depth sweep of Fig. 6 beside the shipped four (plain-20/56, ResNet-20/56): plain-32,
# plain-44, ResNet-32, ResNet-44 and ResNet-110, with the shipped runs' recipe: SCALE=0.25 (16,000
# iterations, lr /10 at 8,000 and 12,000, test error on the full 10k test set every 800 iterations), seed 0
# and the same batch order for every net. ResNet-110 warms up as the paper's does (lr 0.01 until the
# training error is below 80%, then 0.1; the run stores the iteration as warmup_ended_at).
# QUEUES lists the runs, one background process of THREADS threads per '|'-separated queue, balanced by
# cost (one thread, Zen 4: ~0.37, ~0.5, ~0.62 and ~1.2 s an iteration for depth 32, 44, 56 and 110, so
# ~13 h of one core for the five, ~7 h on two; on the slower EPYC host ~0.75, ~1.0 and 1.8-2.9 s for 32, 44
# and 110). Queues may outnumber the cores (the kernel shares the cores among them): three queues here, as
# two (ResNet-110 | the four others) left the second with twice the first's remaining work. To rebalance
# mid-way, stop the trainers (SIGINT) and rerun with other QUEUES naming every run (promotion moves only
# the runs named, then removes assets/runs/resume/): each run resumes where it stopped. The shipped four
# were made with QUEUES="plain20 plain56|resnet20 resnet56" KEEP_CHECKPOINTS="plain20 plain56 resnet20
# resnet56" (~6 h of both cores on Zen 4 over three sittings; README gives each run's recorded wall time).
# Seeds (#39): a name ending in -seedS trains that net with seed S (its weights, batch order and augmentation)
# and is promoted to assets/runs/seeds/, where resnet_demo.experiments.noise reads the spread between seeds:
#   QUEUES="resnet20-seed1 resnet56-seed1|resnet20-seed2 resnet56-seed2" KEEP_CHECKPOINTS="" bash scripts/stored_runs.sh
# SCALE=1 is the paper's full recipe (64k iterations; wants a GPU, DEVICE=cuda, or torchrun: see README).
# Why 16,000 iterations: measured at a constant lr 0.1 (same seed and batches, 1 thread), ResNet-56's
# smoothed training error trails ResNet-20's by 17.7 points at iteration 1,000, 4.4 at 2,000, 2.3 at 3,000,
# 1.6 at 4,000; at SCALE=0.035 (2,240 iterations) and at SCALE=0.125 (8,000) ResNet-56 ended above
# ResNet-20 in test error.
#
# Longer than one sitting, so it is resumable at any moment: each trainer works in assets/runs/resume/
# (tracked, so a commit carries it to the next sitting) and writes its run, and atomically its resume
# state NAME.pt, at every evaluation; rerun the same command to continue (a run already complete there is
# skipped). When all are complete they move to assets/runs/NAME.json together (and the checkpoints named
# in KEEP_CHECKPOINTS to assets/checkpoints/NAME.pt; the others are deleted), and assets/runs/resume/ is
# removed, so the app never shows a half-finished set.
# Run it in the background, `nice -n 19 bash scripts/stored_runs.sh > /tmp/stored_runs.log 2>&1 &`, and
# pause it around benchmarks (kill -STOP / -CONT on its process group).
# Linux groups CPU time by session ("autogroup"): `nice` only ranks processes inside one session, so a job
# started with setsid would still take half the machine from the interactive session (and 2-thread torch
# work there slows ~30x when its threads wait on each other). Lowering the session's own weight, below, is
# what makes it a background job; started without setsid it lowers the calling shell's session too.
set -euo pipefail
echo 19 > /proc/self/autogroup 2>/dev/null || true
cd "$(dirname "$0")/.."
DATASET=${DATASET:-../shared/data/cifar10-jpeg}
SCALE=${SCALE:-0.25}
DEVICE=${DEVICE:-auto}
THREADS=${THREADS:-1}
QUEUES=${QUEUES:-"resnet110|plain44 resnet44 resnet32|plain32"}
KEEP_CHECKPOINTS=${KEEP_CHECKPOINTS:-"resnet110"}
EVAL_EVERY=${EVAL_EVERY:-800}
LOG_EVERY=${LOG_EVERY:-20}
WARMUP_DEPTH=${WARMUP_DEPTH:-110}  # nets this deep or deeper warm up (the paper: ResNet-110 only)
NOTE=${NOTE:-"shortened schedule: the paper's recipe with iterations and lr milestones scaled by $SCALE"}
STAGE=assets/runs/resume
NAMES=$(echo "$QUEUES" | tr '|' ' ')
for name in $NAMES; do
  [[ $name =~ ^(plain|resnet)[0-9]+(-seed[0-9]+)?$ ]] \
    || { echo "QUEUES: '$name' is not plainN, resnetN, plainN-seedS or resnetN-seedS" >&2; exit 2; }
done
mkdir -p "$STAGE"
python -c "from resnet_demo.nets.data import load; load('$DATASET')"  # decode once, cached for all processes
IFS='|' read -ra queues <<< "$QUEUES"
for queue in "${queues[@]}"; do
  (
    for name in $queue; do
      net=${name%%-seed*}  # resnet56-seed2: net resnet56, seed 2 (no suffix: seed 0)
      seed=0
      if [[ $name == *-seed* ]]; then seed=${name##*-seed}; fi
      depth=${net//[a-z]/}
      if [[ $net == resnet* ]]; then arch=residual; else arch=plain; fi
      warmup=()
      if [ "$arch" = residual ] && [ "$depth" -ge "$WARMUP_DEPTH" ]; then warmup=(--warmup-until-error 0.8); fi
      python -m resnet_demo.nets.train --arch "$arch" --depth "$depth" --dataset "$DATASET" \
        --schedule-scale "$SCALE" --eval-every "$EVAL_EVERY" --log-every "$LOG_EVERY" --device "$DEVICE" \
        --threads "$THREADS" --seed "$seed" "${warmup[@]}" --note "$NOTE" --out "$STAGE/$name.json" \
        --save "$STAGE/$name.ckpt" --state "$STAGE/$name.pt" --resume --quiet
    done
  ) &
done
wait  # each subshell stops at its first failure; set -e does not see background jobs, so check the results:
for name in $NAMES; do
  [ -f "$STAGE/$name.ckpt" ] || { echo "$name did not finish; rerun to resume" >&2; exit 1; }
done
mkdir -p assets/runs/seeds
for name in $NAMES; do
  if [[ $name == *-seed* ]]; then dest=assets/runs/seeds; else dest=assets/runs; fi  # another seed of a stored net
  mv "$STAGE/$name.json" "$dest/$name.json"
  if [[ " $KEEP_CHECKPOINTS " == *" $name "* ]]; then
    mv "$STAGE/$name.ckpt" "assets/checkpoints/$name.pt"
  fi
done
rm -r "$STAGE"
echo "stored runs and checkpoints updated in assets/runs/ and assets/checkpoints/" >&2
