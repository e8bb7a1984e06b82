#!/usr/bin/env bash
# Rebuilds the bundled .eem models from Models/fashion-attn-wrn.onnx: convert, tune the exit
# thresholds on the validation split (never the test set), quantize to int8 on the same split and
# tune the int8 model's thresholds for agreement with float32.
set -euo pipefail
cd "$(dirname "$0")/.."
# EARLYEXIT_BIN may name an already built release binary.
B="${EARLYEXIT_BIN:-}"
if [ -z "$B" ]; then swift build -c release --product early-exit; B=.build/release/early-exit; fi
VAL="--images Models/fashion-val-images-idx3-ubyte.gz --labels Models/fashion-val-labels-idx1-ubyte.gz"
$B convert Models/fashion-attn-wrn.onnx -o Models/fashion-attn-wrn.eem \
    --classes Models/fashion-classes.txt --mean 0.2860 --std 0.3530 --name fashion-attn-wrn
# Tune the exit rules on the validation split with the guaranteed mode (Learn-then-Test): the
# cheapest setting whose expected accuracy drop against the full network is certified to be at
# most 0.3 pp with probability 0.9 (README, Tuning). Each exit's signal is the one that ranks its
# right and wrong predictions best on the search half (AUROC). --write refuses a failed check.
$B tune Models/fashion-attn-wrn.eem $VAL --max-drop 0.3 --confidence 0.9 --write --plot docs/tuning.svg --csv docs/tuning.csv
# Min/max activation ranges: with the int8 path's full-precision attention pooling and accumulator gate
# decisions they agree with float32's exits more often than percentile or MSE ranges on the
# validation split (96.7% against 94.3% and 96.2%; README, int8).
$B quantize Models/fashion-attn-wrn.eem --calibration Models/fashion-val-images-idx3-ubyte.gz --count 500 --method minmax --bias-correction 1 \
    -o Models/fashion-attn-wrn-int8.eem
# The int8 model's own thresholds, with the same guarantee on its drop against its own full
# network, among the settings whose exits match float32's (the same thresholds applied to both)
# on at least 99% of the search images. Gate thresholds: with maxprob the two precisions agree
# far less often at the same thresholds (README, int8).
$B tune Models/fashion-attn-wrn-int8.eem $VAL --max-drop 0.3 --confidence 0.9 --signal gate \
    --agree-with Models/fashion-attn-wrn.eem --min-agreement 0.99 --write
$B info Models/fashion-attn-wrn.eem
