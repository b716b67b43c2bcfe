package cache

// WaitRefreshes waits until the fills and background refreshes under way
// have ended, so that a test can act after one without waiting on the
// clock.
func (c *Cache) WaitRefreshes() { c.work.Wait() }
