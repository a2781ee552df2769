package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

// quietHoursRow is a user's quiet hours.
type quietHoursRow struct {
	bun.BaseModel `bun:"table:notification_quiet_hours,alias:qh"`

	UserID    string    `bun:"user_id,pk"`
	Starts    string    `bun:"starts"`
	Ends      string    `bun:"ends"`
	TimeZone  string    `bun:"time_zone"`
	UpdatedAt time.Time `bun:"updated_at"`
}

// NotificationPreferenceService keeps what reaches each user.
type NotificationPreferenceService struct{ db *DB }

var _ switchboard.NotificationPreferenceService = (*NotificationPreferenceService)(nil)

func NewNotificationPreferenceService(db *DB) *NotificationPreferenceService {
	return &NotificationPreferenceService{db: db}
}

// mayManagePreferences checks that the actor may read or change the
// preferences of userID: their own, or anyone's for admins. Another
// user's do not exist for anyone else.
func mayManagePreferences(ctx context.Context, userID string) error {
	actor := switchboard.ActorFromContext(ctx)
	switch {
	case actor == nil:
		return switchboard.ErrSignInFirst
	case actor.IsAdmin():
		return nil
	case actor.UserID() == "":
		return &switchboard.Error{Code: switchboard.EFORBIDDEN, Message: "Only users have notification preferences."}
	case actor.UserID() != userID:
		return errUserNotFound()
	}
	return nil
}

// FindNotificationPreferences returns a user's preferences, the defaults
// filled in.
func (s *NotificationPreferenceService) FindNotificationPreferences(ctx context.Context, userID string) (*switchboard.NotificationPreferences, error) {
	if err := mayManagePreferences(ctx, userID); err != nil {
		return nil, err
	}
	user, err := findUserRow(ctx, s.db.bun, userID, false)
	if err != nil {
		return nil, err
	}
	p, err := loadPreferences(ctx, s.db.bun, user)
	return p, translate(err)
}

// loadPreferences reads a user's choices and quiet hours, and the agent
// they work as, whose phone SMS go to and whose channels are the defaults
// of work given to it.
func loadPreferences(ctx context.Context, idb bun.IDB, user *userRow) (*switchboard.NotificationPreferences, error) {
	p := &switchboard.NotificationPreferences{UserID: user.ID, Role: switchboard.Role(user.Role)}
	var agents []*agentRow
	if err := idb.NewSelect().Model(&agents).Column("a.id", "a.phone", "a.notify").Where("a.user_id = ?", user.ID).Scan(ctx); err != nil {
		return nil, err
	}
	var notify []switchboard.Channel
	if len(agents) > 0 {
		p.Agent, p.Phone = true, deref(agents[0].Phone)
		_ = json.Unmarshal([]byte(agents[0].Notify), &notify)
	}
	var rows []*preferenceRow
	if err := idb.NewSelect().Model(&rows).Where("np.user_id = ?", user.ID).Scan(ctx); err != nil {
		return nil, err
	}
	for _, k := range switchboard.NotificationKinds {
		defaults := k.DefaultChannels(notify)
		if defaults == nil {
			defaults = []switchboard.Channel{}
		}
		kc := switchboard.KindChannels{Kind: k, Channels: defaults, Default: true, Defaults: defaults}
		for _, r := range rows {
			if r.Kind == string(k) {
				kc.Channels, kc.Default = r.channels(), false
			}
		}
		p.Kinds = append(p.Kinds, kc)
	}
	var quiet quietHoursRow
	err := idb.NewSelect().Model(&quiet).Where("qh.user_id = ?", user.ID).Scan(ctx)
	switch {
	case err == nil:
		p.QuietHours = &switchboard.QuietHours{Start: quiet.Starts, End: quiet.Ends, TimeZone: quiet.TimeZone}
	case !errors.Is(err, errNoRows):
		return nil, err
	}
	return p, nil
}

// UpdateNotificationPreferences replaces a user's choices and quiet
// hours.
func (s *NotificationPreferenceService) UpdateNotificationPreferences(ctx context.Context, userID string, upd switchboard.NotificationPreferencesUpdate) (*switchboard.NotificationPreferences, error) {
	if err := mayManagePreferences(ctx, userID); err != nil {
		return nil, err
	}
	invalid := upd.Validate()
	if invalid != nil && len(switchboard.ErrorFields(invalid)) == 0 {
		return nil, invalid
	}
	var out *switchboard.NotificationPreferences
	err := s.db.write(ctx, func(ctx context.Context, tx *Tx) error {
		user, err := findUserRow(ctx, tx, userID, true)
		if err != nil {
			return err
		}
		before, err := loadPreferences(ctx, tx, user)
		if err != nil {
			return err
		}
		// Every problem at once: those of the input, and SMS chosen
		// without a phone to send them to.
		var v switchboard.Validation
		v.Merge(0, invalid)
		var rows []*preferenceRow
		for _, k := range switchboard.NotificationKinds {
			channels, ok := upd.Channels[k]
			if !ok {
				continue
			}
			if slices.Contains(channels, switchboard.ChannelSMS) && before.Phone == "" {
				v.Add("channels."+string(k), "SMS go to the phone of the agent you work as, and there is none: ask for one to be set, or choose another channel.")
			}
			names := make([]string, len(channels))
			for i, c := range channels {
				names[i] = string(c)
			}
			rows = append(rows, &preferenceRow{UserID: user.ID, Kind: string(k), Channels: strings.Join(names, ","), UpdatedAt: tx.now})
		}
		if err := v.Err(); err != nil {
			return err
		}
		if _, err := tx.NewDelete().Model((*preferenceRow)(nil)).Where("user_id = ?", user.ID).Exec(ctx); err != nil {
			return err
		}
		if err := insertChunks(ctx, s.db, tx, rows); err != nil {
			return err
		}
		if _, err := tx.NewDelete().Model((*quietHoursRow)(nil)).Where("user_id = ?", user.ID).Exec(ctx); err != nil {
			return err
		}
		if q := upd.QuietHours; q != nil {
			row := &quietHoursRow{UserID: user.ID, Starts: q.Start, Ends: q.End, TimeZone: q.TimeZone, UpdatedAt: tx.now}
			if _, err := tx.NewInsert().Model(row).Returning("NULL").Exec(ctx); err != nil {
				return err
			}
		}
		if out, err = loadPreferences(ctx, tx, user); err != nil {
			return err
		}
		tx.recordChange(switchboard.EventPreferencesUpdated, userSubject(user), preferenceSummary(before), preferenceSummary(out), eventScope{})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// preferenceSummary is what the event of a change of preferences says of
// them.
func preferenceSummary(p *switchboard.NotificationPreferences) map[string]any {
	m := map[string]any{}
	for _, kc := range p.Kinds {
		names := make([]string, len(kc.Channels))
		for i, c := range kc.Channels {
			names[i] = string(c)
		}
		m[string(kc.Kind)] = strings.Join(names, ",")
	}
	m["quiet_hours"] = ""
	if q := p.QuietHours; q != nil {
		m["quiet_hours"] = q.Start + "-" + q.End + " " + q.TimeZone
	}
	return m
}
