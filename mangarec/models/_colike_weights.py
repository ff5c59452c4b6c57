"""Tag weights fitted on co-likes (generated: ``python3 benchmarks/bench_colike.py --write``; do not edit).

Fitted on anime-recdb (MyAnimeList ratings, Kaggle CooperUnion via Case Recommender): 4684 users' 252810 likes
(rating >= 0.7 of the scale), 800 sampled titles, 2 sweeps, seed 42; agreement@20 on the sample 0.0966.
Derived parameters (one weight per tag name and two coefficients), not rows of the data.
"""

AFFINITY = 0.4
PRIOR = 0.4
TAG_WEIGHTS: dict[str, float] = {
    "Action": 0.5,
    "Adventure": 1.0,
    "Boys' Love": 4.0,
    "Cars": 1.0,
    "Comedy": 0.5,
    "Dementia": 1.0,
    "Demons": 1.0,
    "Drama": 1.0,
    "Ecchi": 2.0,
    "Fantasy": 1.0,
    "Game": 2.0,
    "Girls' Love": 2.0,
    "Harem": 1.0,
    "Historical": 2.0,
    "Horror": 2.0,
    "Josei": 1.0,
    "Kids": 2.0,
    "Magic": 1.0,
    "Martial Arts": 1.0,
    "Mecha": 1.0,
    "Military": 1.0,
    "Music": 1.0,
    "Mystery": 1.0,
    "Parody": 1.0,
    "Police": 2.0,
    "Psychological": 1.0,
    "Romance": 1.0,
    "Samurai": 1.0,
    "School Life": 1.0,
    "Sci-Fi": 1.0,
    "Seinen": 0.5,
    "Shoujo": 2.0,
    "Shounen": 1.0,
    "Slice of Life": 0.5,
    "Space": 1.0,
    "Sports": 2.0,
    "Super Power": 1.0,
    "Supernatural": 1.0,
    "Thriller": 1.0,
    "Vampires": 0.5,
}
