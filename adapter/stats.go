package adapter

// RoomCount is the number of local rooms, as len(AllRooms()) without
// listing them: the room of each socket's own id counts.
func (m *Memory) RoomCount() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n := len(m.rooms)
	for id, mb := range m.sids {
		if mb.inSelf {
			if _, dup := m.rooms[id]; !dup {
				n++
			}
		}
	}
	return n
}
