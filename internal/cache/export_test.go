package cache

// WaitRefreshes waits until the background refreshes under way have ended,
// so that a test can act after one without waiting on the clock. The cache
// must have no near cache, whose subscription runs until Close.
func (c *Cache) WaitRefreshes() { c.background.Wait() }
