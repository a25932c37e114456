#!/bin/sh
# demo.sh - the demo library: three short MP3s with ID3 titles, made with
# sox and lame, cached in build/demo/ and imported into DATADIR's library.
# usage: scripts/demo.sh DATADIR
set -eu

DATA=${1:?usage: scripts/demo.sh DATADIR}
OUT=build/demo
mkdir -p "$OUT"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# mp3 NAME TITLE WAV: encodes WAV with an ID3v2 title, artist and album.
mp3() {
	[ -s "$OUT/$1.mp3" ] || lame --quiet -b 128 --add-id3v2 --tt "$2" \
	    --ta "tutti demo" --tl "Demo library" "$3" "$OUT/$1.mp3"
}

if [ ! -s "$OUT/metronome.mp3" ]; then
	# 120 beats a minute for 24 s, an accent every 4: align devices by ear.
	sox -q -n -r 44100 -c 2 "$T/hi.wav" synth 0.03 sine 1760 fade 0 0.03 0.02 pad 0 0.47
	sox -q -n -r 44100 -c 2 "$T/lo.wav" synth 0.03 sine 880 fade 0 0.03 0.02 pad 0 0.47
	sox -q "$T/hi.wav" "$T/lo.wav" "$T/lo.wav" "$T/lo.wav" "$T/bar.wav"
	sox -q "$T/bar.wav" "$T/metronome.wav" repeat 11
	mp3 metronome "Metronome 120" "$T/metronome.wav"
fi
if [ ! -s "$OUT/chords.mp3" ]; then
	i=0
	for ch in "261.63 329.63 392.00" "220.00 261.63 329.63" "174.61 220.00 261.63" "196.00 246.94 293.66"; do
		set -- $ch
		sox -q -n -r 44100 -c 2 "$T/c$i.wav" synth 3 sine "$1" sine "$2" sine "$3" \
		    remix 1-3 gain -6 fade 0.05 3 0.4 channels 2
		i=$((i + 1))
	done
	sox -q "$T/c0.wav" "$T/c1.wav" "$T/c2.wav" "$T/c3.wav" "$T/chords4.wav"
	sox -q "$T/chords4.wav" "$T/chords.wav" repeat 1
	mp3 chords "Four Chords" "$T/chords.wav"
fi
if [ ! -s "$OUT/arpeggio.mp3" ]; then
	for n in C4 E4 G4 C5 G4 E4; do
		sox -q -n -r 44100 -c 2 "$T/n-$n.wav" synth 0.25 pluck "$n" gain -3
	done
	sox -q "$T/n-C4.wav" "$T/n-E4.wav" "$T/n-G4.wav" "$T/n-C5.wav" "$T/n-G4.wav" "$T/n-E4.wav" "$T/arp1.wav"
	sox -q "$T/arp1.wav" "$T/arpeggio.wav" repeat 12
	mp3 arpeggio "Pluck Arpeggio" "$T/arpeggio.wav"
fi

bin/tutti-api -d "$DATA" import "$OUT/metronome.mp3" "$OUT/chords.mp3" "$OUT/arpeggio.mp3" >/dev/null
