package fakeinference

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// apiError is an error answer in OpenAI's shape:
// {"error": {"message", "type", "param", "code"}}.
type apiError struct {
	status  int
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func (e *apiError) Error() string { return e.Message }

func badRequest(param, format string, args ...any) *apiError {
	e := &apiError{status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...), Type: "invalid_request_error"}
	if param != "" {
		e.Param = &param
	}
	return e
}

func strPtr(s string) *string { return &s }

// writeAPIError writes e as JSON with its status; extra headers are set first.
func writeAPIError(w http.ResponseWriter, e *apiError) {
	body, _ := json.Marshal(struct {
		Error *apiError `json:"error"`
	}{e})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(e.status)
	w.Write(append(body, '\n'))
}

// kind of endpoint.
type endpoint int

const (
	chatEndpoint endpoint = iota
	completionEndpoint
)

// genRequest is what both endpoints need from a request body.
type genRequest struct {
	model        string
	stream       bool
	includeUsage bool
	maxTokens    int  // 0: not set
	ignoreEOS    bool // vLLM extension: always generate max tokens
	promptTokens int
	echoText     string // the text echo mode repeats
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type chatRequest struct {
	Model               string          `json:"model"`
	Messages            []chatMessage   `json:"messages"`
	Stream              *bool           `json:"stream"`
	StreamOptions       *streamOptions  `json:"stream_options"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	N                   *int            `json:"n"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	IgnoreEOS           bool            `json:"ignore_eos"`
	Prompt              json.RawMessage `json:"prompt"` // only in completions
}

// parseRequest decodes and validates a request body for ep.
func parseRequest(ep endpoint, body []byte) (genRequest, *apiError) {
	var r chatRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&r); err != nil {
		return genRequest{}, badRequest("", "the request body is not valid JSON for this endpoint: %v", err)
	}
	g := genRequest{model: r.Model, ignoreEOS: r.IgnoreEOS}
	if r.Stream != nil {
		g.stream = *r.Stream
	}
	if r.StreamOptions != nil {
		if !g.stream {
			return g, badRequest("stream_options", "stream_options is only allowed when stream is true")
		}
		g.includeUsage = r.StreamOptions.IncludeUsage
	}
	if r.N != nil && *r.N != 1 {
		return g, badRequest("n", "n=%d is not supported by this server; use n=1", *r.N)
	}
	if r.Temperature != nil && (*r.Temperature < 0 || *r.Temperature > 2) {
		return g, badRequest("temperature", "temperature %v is out of range; use 0..2", *r.Temperature)
	}
	if r.TopP != nil && (*r.TopP <= 0 || *r.TopP > 1) {
		return g, badRequest("top_p", "top_p %v is out of range; use a value in (0, 1]", *r.TopP)
	}
	switch {
	case r.MaxCompletionTokens != nil:
		if *r.MaxCompletionTokens < 1 {
			return g, badRequest("max_completion_tokens", "max_completion_tokens must be at least 1, got %d", *r.MaxCompletionTokens)
		}
		g.maxTokens = *r.MaxCompletionTokens
	case r.MaxTokens != nil:
		if *r.MaxTokens < 1 {
			return g, badRequest("max_tokens", "max_tokens must be at least 1, got %d", *r.MaxTokens)
		}
		g.maxTokens = *r.MaxTokens
	}
	switch ep {
	case chatEndpoint:
		if len(r.Messages) == 0 {
			return g, badRequest("messages", "messages is required and must be a non-empty array")
		}
		for i, m := range r.Messages {
			switch m.Role {
			case "system", "developer", "user", "assistant", "tool", "function":
			case "":
				return g, badRequest(fmt.Sprintf("messages[%d].role", i), "messages[%d].role is required", i)
			default:
				return g, badRequest(fmt.Sprintf("messages[%d].role", i), "messages[%d].role %q is not one of system, developer, user, assistant, tool", i, m.Role)
			}
			text, ok := contentText(m.Content)
			if !ok {
				return g, badRequest(fmt.Sprintf("messages[%d].content", i), "messages[%d].content must be a string or an array of content parts", i)
			}
			g.promptTokens += countTokens(text) + 4 // + chat template tokens
			if m.Role == "user" {
				g.echoText = text
			}
		}
		g.promptTokens += 2
	case completionEndpoint:
		n, text, err := promptTokens(r.Prompt)
		if err != nil {
			return g, err
		}
		g.promptTokens, g.echoText = n, text
	}
	return g, nil
}

// contentText returns the text of a chat message content: a string, null, or
// an array of parts whose text parts are joined.
func contentText(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", true
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false
		}
		return s, true
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", false
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(p.Text)
		}
	}
	return b.String(), true
}

// promptTokens counts the tokens of a completions prompt: a string, an array
// of one string, an array of token ids, or an array of one such array.
func promptTokens(raw json.RawMessage) (int, string, *apiError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return 0, "", badRequest("prompt", "prompt is required")
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return countTokens(s), s, nil
	}
	var ss []string
	if json.Unmarshal(raw, &ss) == nil {
		if len(ss) != 1 {
			return 0, "", badRequest("prompt", "prompt arrays of %d strings are not supported; send one prompt per request", len(ss))
		}
		return countTokens(ss[0]), ss[0], nil
	}
	var ids []int
	if json.Unmarshal(raw, &ids) == nil {
		if len(ids) == 0 {
			return 0, "", badRequest("prompt", "prompt is an empty token array")
		}
		return len(ids), "", nil
	}
	var idss [][]int
	if json.Unmarshal(raw, &idss) == nil && len(idss) == 1 && len(idss[0]) > 0 {
		return len(idss[0]), "", nil
	}
	return 0, "", badRequest("prompt", "prompt must be a string, an array of one string or an array of token ids")
}

// usage is the OpenAI usage object.
type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type chatChoice struct {
	Index   int `json:"index"`
	Message struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"message"`
	Logprobs     *struct{} `json:"logprobs"`
	FinishReason string    `json:"finish_reason"`
}

type completionChoice struct {
	Index        int       `json:"index"`
	Text         string    `json:"text"`
	Logprobs     *struct{} `json:"logprobs"`
	FinishReason string    `json:"finish_reason"`
}

type completionResponse struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices any    `json:"choices"`
	Usage   usage  `json:"usage"`
}
