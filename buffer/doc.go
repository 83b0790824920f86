// Package buffer holds a live stream's window: every tag from the latest
// keyframe on (and older ones, up to a time and byte bound, for viewers that
// lag), each encoded once and shared by all viewers, and the viewers' cursors
// into it.
package buffer
