package web

import (
	"net/http"

	"github.com/flvedge/flvedge/auth"
)

// guarded puts guard's play rules in front of the play routes; a nil guard
// lets everything through. An admitted request's admission is given back
// when play returns, or, for a live viewer, when its session ends.
func guarded(guard *auth.Guard, play http.Handler) http.Handler {
	if guard == nil {
		return play
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, admission, ok := guard.Admit(w, r)
		if !ok {
			return
		}
		r, ex := exchangeOf(r)
		ex.admission = admission
		play.ServeHTTP(w, r)
		if !ex.taken {
			admission.Release()
		}
	})
}
