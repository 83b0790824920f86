package web

import (
	"net/http"

	"github.com/flvedge/flvedge/auth"
)

// guarded puts guard's play rules in front of the play routes; a nil guard
// lets everything through.
func guarded(guard *auth.Guard, play http.Handler) http.Handler {
	if guard == nil {
		return play
	}
	return guard.Play(play)
}
