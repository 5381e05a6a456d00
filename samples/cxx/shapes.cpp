#include "shapes.hpp"

#include <cmath>
#include <utility>

namespace geometry {
Polygon::Polygon(std::vector<Point> points) : points_(std::move(points)) {}

__attribute__((noinline)) double Polygon::area(int repetitions) const {
    double total = 0;
    for (int r = 0; r < repetitions; r++) {
        double sum = 0;
        for (size_t i = 0, n = points_.size(); i < n; i++) {
            const Point &a = points_[i], &b = points_[(i + 1) % n];
            sum += a.x * b.y - b.x * a.y;
        }
        total += std::fabs(sum) / 2 + r * 1e-12;
    }
    return total;
}
} // namespace geometry
