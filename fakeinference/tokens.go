package fakeinference

import (
	"encoding/json"
	"unicode/utf8"
)

// maxWordPiece is the longest token the approximate tokenizer cuts from a
// word, in bytes: English text then averages about 1.3 tokens per word, close
// to real BPE vocabularies.
const maxWordPiece = 6

// tokenize calls fn with each token of s. The tokenizer is an approximation
// of a BPE tokenizer: a token is an optional run of leading white space
// followed by either at most maxWordPiece bytes of a word (letters, digits,
// any non-ASCII rune) or one other character. Concatenating the tokens gives
// s without its trailing white space.
func tokenize(s string, fn func(tok string)) {
	i := 0
	for i < len(s) {
		start := i
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) {
			return
		}
		if !isWordByte(s[i]) {
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
			fn(s[start:i])
			continue
		}
		j := i
		for j < len(s) && isWordByte(s[j]) && j-i < maxWordPiece {
			j++
		}
		for j < len(s) && j > i && !utf8.RuneStart(s[j]) {
			j++ // never split a rune
		}
		i = j
		fn(s[start:i])
	}
}

// countTokens returns the number of tokens tokenize finds in s.
func countTokens(s string) int {
	n := 0
	tokenize(s, func(string) { n++ })
	return n
}

func isSpace(b byte) bool { return b == ' ' || b == '\n' || b == '\t' || b == '\r' }

func isWordByte(b byte) bool {
	return b >= 0x80 || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '\''
}

// token is one output token: its text and its JSON string encoding, quotes
// included, ready to be copied into a chunk.
type token struct {
	text string
	json []byte
}

func newToken(text string) token {
	j, _ := json.Marshal(text) // a string always marshals
	return token{text: text, json: j}
}

// vocabulary holds the words of random mode, each with a leading space; the
// first token of a response uses firstWords (no leading space, capitalised).
// Every word is one token for tokenize (at most maxWordPiece letters), so a
// response's text counts as many tokens as its usage says.
var vocabulary, firstWords = func() ([]token, []token) {
	words := []string{
		"the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on",
		"not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "had", "they", "you", "were",
		"queue", "worker", "scale", "burst", "token", "delay", "copy", "stream", "task", "model", "ask", "answer", "result", "agent", "node", "pod",
		"fast", "slow", "first", "last", "every", "each", "more", "less", "time", "load", "wait", "run", "step", "plan", "tool", "call",
	}
	v := make([]token, len(words))
	f := make([]token, len(words))
	for i, w := range words {
		v[i] = newToken(" " + w)
		f[i] = newToken(string(w[0]-'a'+'A') + w[1:])
	}
	return v, f
}()
