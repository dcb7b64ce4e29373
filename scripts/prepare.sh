#!/usr/bin/env bash
# prepare.sh DATASET TOKENIZER: token shards in data/DATASET-TOKENIZER/ (train_*.bin, val_*.bin).
#   DATASET   tinyshakespeare | books
#   TOKENIZER byte | gpt2
# Text and GPT-2 files come from $SHARED_DATA (default ../shared/data) when present, else the
# canonical public copies are downloaded into data/raw and data/gpt2 (and checked by sha256).
set -euo pipefail
cd "$(dirname "$0")/.."
dataset=${1:-tinyshakespeare}
tokenizer=${2:-byte}
shared=${SHARED_DATA:-../shared/data}
out=data/$dataset-$tokenizer
if [ -f "$out/train_000000.bin" ] && [ -f "$out/val_000000.bin" ]; then echo "data: $out is ready"; exit 0; fi

fetch() { # fetch URL FILE [SHA256]
  echo "data: downloading $1"
  mkdir -p "$(dirname "$2")"
  curl -fsSL -o "$2.part" "$1" || { echo "error: could not download $1"; echo "HINT: put the file at $2 yourself, or set SHARED_DATA"; exit 1; }
  if [ -n "${3:-}" ] && [ "$(sha256sum "$2.part" | cut -d' ' -f1)" != "$3" ]; then
    echo "error: $1 does not have the expected sha256"; echo "HINT: the download is corrupt or not the original file"; exit 1
  fi
  mv "$2.part" "$2"
}

gpt2_args=()
if [ "$tokenizer" = gpt2 ]; then
  dir=$shared/gpt2
  if [ ! -f "$dir/encoder.json" ] || [ ! -f "$dir/vocab.bpe" ]; then
    dir=data/gpt2
    base=https://openaipublic.blob.core.windows.net/gpt-2/encodings/main
    [ -f $dir/encoder.json ] || fetch $base/encoder.json $dir/encoder.json 196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783
    [ -f $dir/vocab.bpe ] || fetch $base/vocab.bpe $dir/vocab.bpe 1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5
  fi
  gpt2_args=(--gpt2-dir "$dir")
elif [ "$tokenizer" != byte ]; then
  echo "error: unknown tokenizer '$tokenizer'"; echo "HINT: TOKENIZER=byte or TOKENIZER=gpt2"; exit 1
fi

case $dataset in
  tinyshakespeare)
    src=$shared/tinyshakespeare.txt
    if [ ! -f "$src" ]; then
      src=data/raw/tinyshakespeare.txt
      [ -f $src ] || fetch https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt $src \
        86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed
    fi ;;
  books)
    src=$shared/books
    if [ ! -d "$src" ]; then
      echo "error: no folder of books at $src"
      echo "HINT: set SHARED_DATA, or run ./prepare_data --input YOUR_FOLDER_OF_TXT --tokenizer $tokenizer --out $out"; exit 1
    fi ;;
  *) echo "error: unknown dataset '$dataset'"; echo "HINT: DATASET=tinyshakespeare or DATASET=books"; exit 1 ;;
esac
./prepare_data --input "$src" --tokenizer "$tokenizer" ${gpt2_args[@]+"${gpt2_args[@]}"} --out "$out" --val-frac 0.1
