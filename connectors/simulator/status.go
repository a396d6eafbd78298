package simulator

// Status is the application status of a social security card (卡应用状态).
// Only StatusNormal lets a card pass the real-card check.
//
// No public code table for these statuses was found, so the values are this
// project's own; they are the words used in fixture files.
type Status string

// The card statuses.
const (
	// StatusNormal (正常): the card and its e-card are usable.
	StatusNormal Status = "normal"
	// StatusSealed (封存): the card is made but not yet handed to the holder.
	StatusSealed Status = "sealed"
	// StatusReportedLostTemporary (临时挂失): reported lost by telephone or
	// online; the report expires after a few days unless made formal.
	StatusReportedLostTemporary Status = "reported_lost_temporary"
	// StatusReportedLost (正式挂失): formally reported lost, in writing.
	StatusReportedLost Status = "reported_lost"
	// StatusCancelled (注销): the card is cancelled for good.
	StatusCancelled Status = "cancelled"
)

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusNormal, StatusSealed, StatusReportedLostTemporary, StatusReportedLost, StatusCancelled:
		return true
	}
	return false
}
