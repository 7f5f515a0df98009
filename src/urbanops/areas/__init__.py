"""Areas: district → street → community → unit grid (单元网格); responsibility grids (责任网格)."""
