package simulator

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/citizenid"
)

// cardValidity is how long a simulated card is valid from its issue date
// (cards are commonly issued for ten years).
const cardValidity = 10

// generationIssued is the first issue date of each card generation.
var generationIssued = map[int]time.Time{
	1: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
	2: time.Date(2011, 1, 1, 0, 0, 0, 0, time.UTC),
	3: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC),
}

// Licence implements connectors.LicenceFetcher from the fixture holder of
// number. The fixture has no licence fields; they are derived:
//   - Name, Number, CardNumber, IssuingRegion (the card region) and Status
//     are the holder's;
//   - Sex is the one the number codes (citizenid.Number.Sex);
//   - Nationality is always "CHN";
//   - IssuingAuthority is the human resources and social security
//     department of the card region's province (e.g. 北京市人力资源和社会保障局,
//     广东省人力资源和社会保障厅);
//   - IssueDate is the first day of the card's generation (2000, 2011 or
//     2021) plus a day offset of 0 to 364 derived from the card number (not
//     before the holder's birth), and ValidUntil ten years later.
//
// An unknown number is found false. The only error is a done ctx.
func (s *Simulator) Licence(ctx context.Context, number citizenid.Number) (connectors.Licence, bool, error) {
	if err := ctx.Err(); err != nil {
		return connectors.Licence{}, false, fmt.Errorf("simulator: licence: %w", err)
	}
	h, ok := s.holder(number)
	if !ok {
		return connectors.Licence{}, false, nil
	}
	issued := issueDate(h)
	return connectors.Licence{
		Name:             h.Name,
		Sex:              h.Number.Sex().String(),
		Nationality:      "CHN",
		Number:           h.Number,
		CardNumber:       h.CardNumber,
		IssuingRegion:    h.CardRegion,
		IssuingAuthority: issuingAuthority(h.CardRegion),
		IssueDate:        issued,
		ValidUntil:       issued.AddDate(cardValidity, 0, 0),
		Status:           h.Status,
	}, true, nil
}

// issueDate derives h's card issue date; see Licence.
func issueDate(h *Holder) time.Time {
	f := fnv.New32a()
	_, _ = f.Write([]byte(h.CardRegion + h.CardNumber))
	d := generationIssued[h.Generation].AddDate(0, 0, int(f.Sum32()%365))
	if birth := h.Number.BirthDate(); d.Before(birth) {
		d = birth
	}
	return d
}

// provinces names the province-level divisions by the first two digits of
// their GB/T 2260 code.
var provinces = map[string]string{
	"11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
	"21": "辽宁省", "22": "吉林省", "23": "黑龙江省",
	"31": "上海市", "32": "江苏省", "33": "浙江省", "34": "安徽省", "35": "福建省", "36": "江西省", "37": "山东省",
	"41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区", "46": "海南省",
	"50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省", "54": "西藏自治区",
	"61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区", "65": "新疆维吾尔自治区",
	"71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区",
}

// issuingAuthority names the department that issues cards in region: a
// municipality's bureau (局), a province's or autonomous region's
// department (厅).
func issuingAuthority(region string) string {
	p, ok := provinces[region[:2]]
	switch {
	case !ok:
		return "人力资源和社会保障部"
	case p[len(p)-len("市"):] == "市":
		return p + "人力资源和社会保障局"
	default:
		return p + "人力资源和社会保障厅"
	}
}
