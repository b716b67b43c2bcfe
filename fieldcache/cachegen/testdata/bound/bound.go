// Package bound holds hand-written Go types the test schemas bind to, for
// key fields read through methods.
package bound

import "context"

// Account's key, code, is read through a method: allowed.
type Account struct {
	AccountCode string
	Orders      int
}

// Code is Account's key field.
func (a *Account) Code() string { return a.AccountCode }

// CtxKey's key needs a context: refused.
type CtxKey struct{ ref string }

// Ref is CtxKey's key field.
func (k CtxKey) Ref(context.Context) string { return k.ref }

// ErrKey's key may fail: refused.
type ErrKey struct{ ref string }

// Ref is ErrKey's key field.
func (k ErrKey) Ref() (string, error) { return k.ref, nil }

// Thing is an object type bound to a Go interface: its key is read through
// the interface's method.
type Thing interface{ Key() string }

// AThing is a Thing.
type AThing struct{ K string }

// Key is Thing's key field.
func (a AThing) Key() string { return a.K }
